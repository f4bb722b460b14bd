//! The round-trip model of the scriptable SMTP server: a pipelined group of commands answered
//! in one exchange, groups ending at STARTTLS, DATA and dropped commands.

use std::time::Duration;

use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::smtp::{Command, SmtpServer};
use tokio::io::AsyncWriteExt;

use super::tls::starttls;
use super::{cmd, connect, read_reply, read_to_eof};

#[tokio::test]
async fn round_trip_answers_a_pipelined_group_in_one_exchange() {
    // Zero round trip: grouping without waiting, so nothing here depends on the clock.
    let smtp = SmtpServer::builder()
        .round_trip(Duration::ZERO)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    assert_eq!(smtp.exchanges(), 1, "the greeting");
    cmd(&mut c, "EHLO a.test").await;
    assert_eq!(smtp.exchanges(), 2);
    c.write_all(b"MAIL FROM:<a@a.test>\r\nRCPT TO:<postmaster@b.test>\r\nRSET\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c).await, ["250 2.1.0 Ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.1.5 Ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.0.0 Ok"]);
    assert_eq!(smtp.exchanges(), 3, "three replies, one exchange");
    assert_eq!(cmd(&mut c, "QUIT").await, ["221 2.0.0 Bye"]);
    assert_eq!(smtp.exchanges(), 4);
    assert_eq!(smtp.command_count(Command::Rcpt), 1);

    // Without the model every reply is an exchange of its own.
    let smtp = SmtpServer::builder().build().await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO a.test").await;
    c.write_all(b"MAIL FROM:<a@a.test>\r\nRCPT TO:<postmaster@b.test>\r\nRSET\r\n")
        .await
        .unwrap();
    for _ in 0..3 {
        read_reply(&mut c).await;
    }
    assert_eq!(smtp.exchanges(), 5);
}

#[tokio::test]
async fn round_trip_group_ends_at_starttls_and_continues_inside_tls() {
    let ca = TestCa::new();
    let cert = ca.leaf(&["mx.example.test"]);

    // Lines pipelined after STARTTLS in cleartext are discarded, not answered.
    let smtp = SmtpServer::builder()
        .round_trip(Duration::ZERO)
        .tls(cert.server_config())
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    cmd(&mut c, "EHLO a.test").await;
    c.write_all(b"NOOP\r\nSTARTTLS\r\nMAIL FROM:<evil@a.test>\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c).await, ["250 2.0.0 Ok"]);
    assert_eq!(read_reply(&mut c).await, ["220 2.0.0 Ready to start TLS"]);
    assert_eq!(smtp.exchanges(), 3, "NOOP and STARTTLS in one exchange");
    drop(c);
    smtp.wait_for_closed(1).await;
    let t = smtp.transcript(0).unwrap();
    assert_eq!(t.discarded_after_starttls, b"MAIL FROM:<evil@a.test>\r\n");
    assert!(!t.saw(Command::Mail));

    // A whole session: greeting, EHLO, STARTTLS, (handshake), EHLO, then one group.
    let smtp = SmtpServer::builder()
        .round_trip(Duration::ZERO)
        .tls(cert.server_config())
        .build()
        .await;
    let mut tls = starttls(smtp.addr(), &ca, "mx.example.test")
        .await
        .expect("handshake");
    cmd(&mut tls, "EHLO a.test").await;
    assert_eq!(smtp.exchanges(), 4);
    tls.write_all(
        b"MAIL FROM:<a@a.test>\r\nRCPT TO:<postmaster@b.test>\r\n\
          RCPT TO:<postmaster@c.test>\r\nRSET\r\n",
    )
    .await
    .unwrap();
    for _ in 0..4 {
        assert!(read_reply(&mut tls).await[0].starts_with("250 "));
    }
    assert_eq!(smtp.exchanges(), 5, "four replies inside TLS, one exchange");
}

#[tokio::test]
async fn round_trip_data_and_drops() {
    let smtp = SmtpServer::builder()
        .round_trip(Duration::ZERO)
        .drop_after(Command::Vrfy)
        .build()
        .await;
    let mut c = connect(smtp.addr()).await;
    read_reply(&mut c).await;
    c.write_all(b"EHLO a.test\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n")
        .await
        .unwrap();
    read_reply(&mut c).await;
    assert_eq!(read_reply(&mut c).await, ["250 2.1.0 Ok"]);
    assert_eq!(read_reply(&mut c).await, ["250 2.1.5 Ok"]);
    assert!(read_reply(&mut c).await[0].starts_with("354 "));
    assert_eq!(smtp.exchanges(), 2);
    c.write_all(b"Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_reply(&mut c).await,
        ["250 2.0.0 Ok: queued as TESTKIT"]
    );
    assert_eq!(read_reply(&mut c).await, ["250 2.0.0 Ok"]);
    assert_eq!(smtp.exchanges(), 3);
    // The replies before a dropped command still go out.
    c.write_all(b"NOOP\r\nVRFY x\r\nNOOP\r\n").await.unwrap();
    assert_eq!(read_reply(&mut c).await, ["250 2.0.0 Ok"]);
    assert!(read_to_eof(&mut c).await.is_empty());
    smtp.wait_for_closed(1).await;
    assert_eq!(smtp.command_count(Command::Noop), 2);
}
