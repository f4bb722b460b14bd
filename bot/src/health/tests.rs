//! Tests of `/healthz`: ok only when every shard is ready, the report's fields, request lines,
//! and the endpoint serving `/healthz` and nothing else.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::http::{Head, MAX_HEAD, head_end, parse_request_line};
use super::*;

fn ids(v: &[u32]) -> BTreeSet<u32> {
    v.iter().copied().collect()
}

#[test]
fn ok_only_when_every_shard_is_ready_and_live() {
    let r = HealthReport::new(0, &ids(&[]), None, false, 0, None, 3);
    assert_eq!((r.status, r.shards, r.shards_connected), ("degraded", 0, 0));
    let r = HealthReport::new(2, &ids(&[0]), Some(&ids(&[0, 1])), false, 1, Some(5), 9);
    assert_eq!((r.status, r.shards, r.shards_connected), ("degraded", 2, 1));
    let r = HealthReport::new(2, &ids(&[0, 1]), Some(&ids(&[0, 1])), false, 0, None, 9);
    assert!(r.is_ok() && r.status == "ok");
    // A shard the manager no longer reports connected (reconnecting) is not counted.
    let r = HealthReport::new(2, &ids(&[0, 1]), Some(&ids(&[1])), false, 0, None, 9);
    assert_eq!((r.is_ok(), r.shards_connected), (false, 1));
    // Without a known total, READY events tell it; without a manager, READY is trusted.
    let r = HealthReport::new(0, &ids(&[0]), None, false, 0, None, 9);
    assert!(r.is_ok());
    // Stopping on its own: never ok.
    let r = HealthReport::new(1, &ids(&[0]), None, true, 0, None, 9);
    assert!(!r.is_ok());
}

#[test]
fn report_json_has_the_documented_fields() {
    let r = HealthReport::new(1, &ids(&[0]), None, false, 2, None, 7);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "status": "ok", "gateway_connected": true, "shards": 1, "shards_connected": 1,
            "checks_running": 2, "last_check_age_secs": null, "uptime_secs": 7,
        })
    );
}

#[test]
fn request_lines() {
    let Head::Request { method, path } =
        parse_request_line(b"GET /healthz?x=1 HTTP/1.1\r\nHost: a")
    else {
        panic!("not parsed");
    };
    assert_eq!((method.as_str(), path.as_str()), ("GET", "/healthz"));
    assert!(matches!(parse_request_line(b"hello"), Head::Bad));
    assert!(matches!(parse_request_line(b"GET / SMTP/1"), Head::Bad));
    assert_eq!(head_end(b"GET / HTTP/1.0\n\nrest"), Some(14));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\n"), Some(20));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
}

async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn serves_healthz_and_nothing_else() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = HealthState::new(ConcurrencyCap::new(4));
    let server = tokio::spawn(serve(listener, state.clone()));

    let (status, body) = probe(addr, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 503);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["last_check_age_secs"], serde_json::Value::Null);

    state.set_expected_shards(1);
    state.shard_ready(0, None);
    state.check_finished();
    let (status, body) = probe(addr, Duration::from_secs(5)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["last_check_age_secs"], 0);

    let answer = raw(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let answer = raw(addr, b"POST /healthz HTTP/1.1\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 405 ") && answer.contains("Allow: GET, HEAD"),
        "{answer}"
    );
    let answer = raw(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("\r\n\r\n"),
        "{answer}"
    );
    // Exactly the limit, with no end of head: all of it is read (so closing sends no
    // reset), and the head is still too large.
    let mut huge = b"GET /healthz HTTP/1.1\r\nX: ".to_vec();
    huge.resize(MAX_HEAD, b'a');
    let answer = raw(addr, &huge).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    server.abort();
}
