//! End to end, CSV in and out: cells passed through as read, a spreadsheet-safe CSV report,
//! and a hostile banner escaped in the HTML report and on the terminal.

use crate::common::{LabArgs, code, col, csv_table, json_lines, read_csv, stderr, stdout};
use mailcheck_testkit::lab::Lab;

use super::FIXED;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_edge_cases_and_pass_through() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let input = "\u{feff}Client,E-Mail,Ticket\r\n\
                 # exported from the PSA\r\n\
                 \r\n\
                 \x20 Alpha , postmaster@Healthy.TEST , T1 \r\n\
                 Beta,http://nullmx.test/contact,T2\r\n\
                 Gamma,\"unterminated,T3\r\n\
                 Delta,healthy.test,T4\r\n\
                 Epsilon,not a domain!,T5\r\n\
                 Zeta,,T6\r\n\
                 \"Eta, Inc\",\"nopostmaster.test\",\"T7\"\r\n\
                 Theta,nopostmaster.test,T8,extra\r\n";
    let list = t.write("clients.csv", input);
    let csv = t.path("out.csv");
    let out = t
        .run(&["--format", "jsonl", "-o", csv.to_str().unwrap(), &list])
        .await;
    assert_eq!(
        code(&out),
        1,
        "invalid rows count as broken\n{}",
        stderr(&out)
    );
    let lines = json_lines(&stdout(&out));
    let got: Vec<(u64, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["row"]["line"].as_u64().unwrap(),
                l["row"]["input"].as_str().unwrap(),
                l["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "postmaster@Healthy.TEST", "ok"),
            (5, "http://nullmx.test/contact", "no_mail"),
            (6, "Gamma,\"unterminated,T3", "invalid"),
            (7, "healthy.test", "ok"),
            (8, "not a domain!", "invalid"),
            (9, "", "invalid"),
            (10, "nopostmaster.test", "degraded"),
            (11, "nopostmaster.test", "degraded"),
        ]
    );
    assert!(lines[2]["error"].as_str().unwrap().contains("quote"));
    // Pass-through cells come back as written, spaces included (only the domain is trimmed).
    assert_eq!(lines[0]["row"]["columns"]["Client"], "  Alpha ");
    assert_eq!(lines[0]["row"]["columns"]["Ticket"], " T1 ");

    let (header, rows) = read_csv(&csv);
    assert_eq!(&header[..2], ["Client", "Ticket"]);
    assert_eq!(&header[2..], FIXED);
    assert_eq!(rows.len(), 8, "one row per input row, bad ones included");
    assert_eq!(col(&header, &rows[0], "domain"), "healthy.test");
    assert_eq!(col(&header, &rows[6], "Client"), "Eta, Inc");
    assert_eq!(col(&header, &rows[6], "Ticket"), "T7");
    assert_eq!(col(&header, &rows[5], "verdict"), "invalid");
    assert_eq!(col(&header, &rows[5], "Client"), "Zeta");

    // Duplicates are checked once, reported per row.
    let err = stderr(&out);
    assert!(err.contains("2 duplicate(s) checked once"), "{err}");
    let postmaster_rcpts = |host: &str, domain: &str| {
        lab.server(host)
            .unwrap()
            .transcripts()
            .iter()
            .flat_map(|t| t.lines.clone())
            .filter(|l| l.starts_with(&format!("RCPT TO:<postmaster@{domain}>")))
            .count()
    };
    assert_eq!(
        postmaster_rcpts("mx.nopostmaster.test", "nopostmaster.test"),
        1
    );
    assert_eq!(postmaster_rcpts("mx.healthy.test", "healthy.test"), 1);

    // No header, semicolons, on stdin, mixed with a domain argument.
    let out = t
        .run_stdin(
            &["--format", "csv", "nomx.test", "-"],
            "healthy.test;Client A\nnullmx.test;Client B\n",
        )
        .await;
    let (header, rows) = csv_table(stdout(&out).as_bytes());
    assert_eq!(header[0], "column2");
    assert_eq!(rows.len(), 3);
    assert_eq!(col(&header, &rows[0], "domain"), "nomx.test");
    assert_eq!(col(&header, &rows[0], "column2"), "");
    assert_eq!(col(&header, &rows[1], "domain"), "healthy.test");
    assert_eq!(col(&header, &rows[1], "column2"), "Client A");
    assert_eq!(col(&header, &rows[2], "verdict"), "no_mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_report_is_excel_safe() {
    let lab = Lab::start().await.unwrap();
    let t = LabArgs::new(&lab, "2");
    let list = t.write(
        "evil.csv",
        "client,domain,note\n\
         \"=HYPERLINK(\"\"http://x.invalid\"\",\"\"click\"\")\",healthy.test,+1\n\
         @SUM(A1),=cmd|' /C calc'!A0,-2\n",
    );
    let csv = t.path("out.csv");
    let out = t.run(&["-o", csv.to_str().unwrap(), &list]).await;
    assert_eq!(
        stdout(&out),
        "",
        "no stdout when -o is given without --format"
    );
    let (header, rows) = read_csv(&csv);
    assert!(col(&header, &rows[0], "client").starts_with("'=HYPERLINK"));
    assert_eq!(col(&header, &rows[0], "note"), "'+1");
    assert_eq!(col(&header, &rows[1], "client"), "'@SUM(A1)");
    assert_eq!(col(&header, &rows[1], "note"), "'-2");
    assert!(col(&header, &rows[1], "domain").starts_with("'=cmd"));
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_banner_is_escaped_in_html_and_terminal() {
    use mailcheck_testkit::dns::DnsServer;
    use mailcheck_testkit::smtp::SmtpServer;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    let ip = Ipv4Addr::new(127, 0, 0, 77);
    let smtp = SmtpServer::builder()
        .hostname("mx.hostile.test")
        .greeting("220 mx.hostile.test <script>alert('x')</script> \x1b]0;pwned\x07\x1b[2J ESMTP")
        .rcpt_reply(|a| format!("550 5.7.1 <{a}> <img src=x onerror=alert(1)> rejected"))
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .build()
        .await;
    let dns = DnsServer::builder()
        .mx("hostile.test", 10, "mx.hostile.test")
        .a("mx.hostile.test", ip)
        .ptr(IpAddr::V4(ip), "mx.hostile.test")
        .build()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let md = dir.path().join("r.md");
    let base: Vec<String> = [
        "--resolver",
        &dns.addr().to_string(),
        "--smtp-port",
        &smtp.addr().port().to_string(),
        "--allow-private",
        "--no-dnsbl",
        "--no-egress-check",
        "--timeout",
        "5",
        "--format",
        "text",
        "-o",
        html.to_str().unwrap(),
        "-o",
        md.to_str().unwrap(),
        "hostile.test",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = crate::common::run(&base, &[], None).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("smtp.rcpt_rejected"), "{text}");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert_eq!(page.matches("<script>").count(), 1, "only our own script");
    assert!(!page.contains("<img") && !page.contains('\x1b'));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(!md.contains("<img") && !md.contains('\x1b'), "{md}");
}
