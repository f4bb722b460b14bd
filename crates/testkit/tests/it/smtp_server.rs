//! The scriptable SMTP server, driven by a raw tokio client: replies, pipelining, hooks, drops,
//! the hostile behaviours and connection counting; STARTTLS with the test CA (and its failure
//! modes) in `tls`, the round-trip model in `round_trip`.

use std::net::SocketAddr;
use std::time::Duration;

use mailcheck_testkit::smtp::{Command, Hostile, SmtpServer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod round_trip;
mod tls;

/// Reads one (possibly multi-line) reply; lines without CRLF.
async fn read_reply<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = io.read_line(&mut line).await.expect("read reply");
        assert!(n > 0, "connection closed after {lines:?}");
        assert!(line.ends_with("\r\n"), "not CRLF-terminated: {line:?}");
        let line = line.trim_end().to_owned();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return lines;
        }
    }
}

async fn cmd<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, line: &str) -> Vec<String> {
    io.write_all(format!("{line}\r\n").as_bytes())
        .await
        .expect("write");
    read_reply(io).await
}

async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

/// Reads until the server closes; returns what was read.
async fn read_to_eof<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Vec<u8> {
    let mut rest = Vec::new();
    io.read_to_end(&mut rest).await.expect("read to end");
    rest
}

#[tokio::test]
async fn default_session_hooks_and_transcript() {
    let smtp = SmtpServer::builder()
        .hostname("mx1.example.test")
        .rcpt_reply(|addr| {
            if addr.eq_ignore_ascii_case("postmaster@example.test") {
                "250 2.1.5 Ok".to_owned()
            } else {
                "554 5.7.1 Relay access denied".to_owned()
            }
        })
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    let local = c.get_ref().local_addr().unwrap();

    assert_eq!(
        read_reply(&mut c).await,
        ["220 mx1.example.test ESMTP mailcheck-testkit"]
    );
    assert_eq!(
        cmd(&mut c, "MAIL FROM:<>").await,
        ["503 5.5.1 Error: send HELO/EHLO first"]
    );
    let ehlo = cmd(&mut c, "EHLO probe.example.test").await;
    assert_eq!(ehlo[0], "250-mx1.example.test Hello probe.example.test");
    assert!(ehlo.contains(&"250-PIPELINING".to_owned()), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert_eq!(cmd(&mut c, "MAIL FROM:<>").await, ["250 2.1.0 Ok"]);
    assert_eq!(
        cmd(&mut c, "RCPT TO:<postmaster@example.test>").await,
        ["250 2.1.5 Ok"]
    );
    assert_eq!(
        cmd(&mut c, "RCPT TO:<relay@outside.example>").await,
        ["554 5.7.1 Relay access denied"]
    );
    assert_eq!(cmd(&mut c, "XYZZY").await, ["500 5.5.1 unknown"]);
    assert_eq!(cmd(&mut c, "RSET").await, ["250 2.0.0 Ok"]);
    assert_eq!(cmd(&mut c, "QUIT").await, ["221 2.0.0 Bye"]);
    assert!(read_to_eof(&mut c).await.is_empty());

    smtp.wait_for_closed(1).await;
    assert_eq!(smtp.connections(), 1);
    assert_eq!(smtp.peers(), [local]);
    let t = smtp.transcript(0).unwrap();
    assert!(t.closed && !t.tls);
    assert_eq!(t.lines.len(), 8);
    assert_eq!(t.lines[1], "EHLO probe.example.test");
    assert_eq!(smtp.command_count(Command::Rcpt), 2);
    assert!(!smtp.saw_command(Command::Data));
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let smtp = SmtpServer::builder()
        .rcpt_reply(|addr| format!("250 2.1.5 <{addr}> ok"))
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    c.write_all(
        b"EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<one@b.test>\r\n\
          RCPT TO:<two@b.test>\r\nNOOP\r\n",
    )
    .await
    .unwrap();
    assert_eq!(
        read_reply(&mut c).await.last().unwrap(),
        "250 ENHANCEDSTATUSCODES"
    );
    assert_eq!(read_reply(&mut c).await, ["250 2.1.0 Ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.1.5 <one@b.test> ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.1.5 <two@b.test> ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.0.0 Ok"]);
}

#[tokio::test]
async fn overrides_drops_helo_only_and_data() {
    let smtp = SmtpServer::builder()
        .greeting("220-mx.example.test first line\n220 mx.example.test ready")
        .helo_only()
        .reply(Command::Vrfy, "502 5.5.1 VRFY disabled")
        .drop_after(Command::Rset)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    assert_eq!(read_reply(&mut c).await.len(), 2);
    assert_eq!(
        cmd(&mut c, "EHLO a.test").await,
        ["502 5.5.1 Error: command not implemented"]
    );
    assert_eq!(cmd(&mut c, "HELO a.test").await, ["250 mx.example.test"]);
    assert_eq!(cmd(&mut c, "VRFY root").await, ["502 5.5.1 VRFY disabled"]);
    assert_eq!(
        cmd(&mut c, "DATA").await,
        ["503 5.5.1 Error: need RCPT command"]
    );
    cmd(&mut c, "MAIL FROM:<a@a.test>").await;
    cmd(&mut c, "RCPT TO:<b@b.test>").await;
    assert_eq!(
        cmd(&mut c, "DATA").await,
        ["354 End data with <CR><LF>.<CR><LF>"]
    );
    c.write_all(b"Subject: hi\r\n\r\nQUIT\r\n.\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_reply(&mut c).await,
        ["250 2.0.0 Ok: queued as TESTKIT"]
    );
    c.write_all(b"RSET\r\n").await.unwrap();
    assert!(
        read_to_eof(&mut c).await.is_empty(),
        "no reply after a dropped command"
    );

    smtp.wait_for_closed(1).await;
    assert!(smtp.saw_command(Command::Data));
    assert_eq!(
        smtp.command_count(Command::Quit),
        0,
        "QUIT inside DATA is content"
    );
    assert_eq!(smtp.transcript(0).unwrap().lines.last().unwrap(), "RSET");

    // A 421 greeting closes the connection.
    let busy = SmtpServer::builder()
        .greeting("421 4.3.2 busy")
        .build()
        .await;
    let mut c = connect(busy.addr()).await;
    assert_eq!(read_reply(&mut c).await, ["421 4.3.2 busy"]);
    assert!(read_to_eof(&mut c).await.is_empty());
}

#[tokio::test]
async fn binds_other_loopback_addresses() {
    let smtp = SmtpServer::builder()
        .bind("127.0.0.2:0".parse().unwrap())
        .build()
        .await;
    assert_eq!(smtp.addr().ip().to_string(), "127.0.0.2");
    let mut c = connect(smtp.addr()).await;
    assert!(read_reply(&mut c).await[0].starts_with("220 "));
}

#[tokio::test]
async fn hostile_servers() {
    // Closes at once.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::CloseImmediately)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    assert!(read_to_eof(&mut c).await.is_empty());
    assert_eq!(smtp.connections(), 1);

    // Silence: nothing comes, but what the client sends is recorded.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::Silence)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    c.write_all(b"EHLO impatient.test\r\n").await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(200), c.read(&mut byte)).await;
    assert!(waited.is_err(), "the silent server sent something");
    drop(c);
    smtp.wait_for_closed(1).await;
    assert_eq!(smtp.transcript(0).unwrap().lines, ["EHLO impatient.test"]);

    // One byte at a time.
    let smtp = SmtpServer::builder()
        .greeting("220 slow.test hi")
        .hostile(Hostile::ByteAtATimeGreeting)
        .byte_delay(Duration::from_millis(2))
        .build()
        .await;
    let mut tcp = TcpStream::connect(smtp.addr()).await.unwrap();
    let (mut got, mut reads) = (Vec::new(), 0);
    while !got.ends_with(b"\r\n") {
        let mut buf = [0u8; 64];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(got, b"220 slow.test hi\r\n");
    assert!(reads > 1, "arrived in one read");
    let mut c = BufReader::new(tcp);
    assert_eq!(cmd(&mut c, "HELO a.test").await, ["250 mx.example.test"]);

    // A huge greeting line.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::HugeLine(100_000))
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    let mut line = Vec::new();
    c.read_until(b'\n', &mut line).await.unwrap();
    assert_eq!(line.len(), 100_006);
    assert!(line.starts_with(b"220 aaa"));

    // Endless multi-line greeting.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::EndlessMultiline)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    for _ in 0..10_000 {
        let mut line = String::new();
        c.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("220-"), "{line:?}");
    }

    // Binary garbage.
    let smtp = SmtpServer::builder()
        .hostile(Hostile::BinaryGarbage)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    let mut buf = vec![0u8; 4096];
    c.read_exact(&mut buf).await.unwrap();
    assert!(!buf[..3].iter().all(u8::is_ascii_digit));
    assert!(buf.contains(&0) && buf.contains(&0xff));
}

#[tokio::test]
async fn slow_replies_and_connection_counting() {
    let smtp = SmtpServer::builder()
        .greeting_delay(Duration::from_millis(50))
        .delay(Command::Helo, Duration::from_millis(50))
        .build()
        .await;
    let started = std::time::Instant::now();
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "HELO a.test").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(connect(smtp.addr()).await);
    }
    smtp.wait_for_connections(4).await;
    assert_eq!(smtp.connections(), 4);
}

#[tokio::test]
async fn max_concurrent_connections() {
    let smtp = SmtpServer::builder().build().await;
    // One after another: a QUIT ends the session before the next connection opens.
    for _ in 0..3 {
        let mut c = connect(smtp.addr()).await;
        read_reply(&mut c).await;
        assert_eq!(cmd(&mut c, "QUIT").await, ["221 2.0.0 Bye"]);
    }
    assert_eq!(smtp.connections(), 3);
    assert_eq!(smtp.max_concurrent_connections(), 1);

    // Three at once.
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = connect(smtp.addr()).await;
        read_reply(&mut c).await;
        open.push(c);
    }
    assert_eq!(smtp.max_concurrent_connections(), 3);
    drop(open);
    smtp.wait_for_closed(6).await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    assert_eq!(smtp.connections(), 7);
    assert_eq!(smtp.max_concurrent_connections(), 3);
}
