//! Reading the senders to check: `--ip/--helo/--domain`, or CSV files (and stdin) whose columns
//! `ip`, `helo` and `domain` are found by name, case-insensitively, as the main command finds
//! its domain column. Read with the same CSV reader (BOM, `;`/tab delimiters, comments, quoted
//! fields, malformed lines as their own rows); every other column is passed through to the
//! reports. A file without a header is read as `ip,helo,domain`.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::AuditError;
use crate::input::{Record, RecordReader, Source};

/// One sender to check, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderRow {
    /// The file name, `-`, or `argument`.
    pub source: Arc<str>,
    /// The line in the source (1-based).
    pub line: u64,
    /// The IP cell as given (`self` for this machine).
    pub ip: String,
    /// The HELO cell, when not empty.
    pub helo: Option<String>,
    /// The domain cell, when not empty.
    pub domain: Option<String>,
    /// Pass-through values, aligned to the columns of [`SenderInputs`].
    pub columns: Vec<String>,
    /// Why the line could not be read as CSV (the row is then `invalid`).
    pub problem: Option<String>,
}

/// Every sender row of the inputs, and the pass-through column names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderInputs {
    /// Pass-through column names (the union over all sources, in order of appearance).
    pub columns: Vec<String>,
    /// The rows in input order.
    pub rows: Vec<SenderRow>,
}

/// Header names of the IP column.
const IP_COLUMNS: &[&str] = &[
    "ip",
    "ip address",
    "ip_address",
    "ipaddress",
    "ip addr",
    "sending ip",
    "sending_ip",
    "outbound ip",
    "outbound_ip",
    "gateway ip",
    "gateway_ip",
    "public ip",
    "public_ip",
    "ipv4",
    "ipv6",
];

/// Header names of the HELO column.
const HELO_COLUMNS: &[&str] = &[
    "helo",
    "ehlo",
    "helo name",
    "helo_name",
    "ehlo name",
    "ehlo_name",
    "helo hostname",
    "smtp_helo_name",
    "hostname",
    "host name",
];

/// Header names of the domain column.
const DOMAIN_COLUMNS: &[&str] = &[
    "domain",
    "sender domain",
    "sender_domain",
    "mail domain",
    "mail_domain",
    "envelope domain",
    "from domain",
    "mail from",
    "mail_from",
    "sender",
    "email",
    "e-mail",
];

/// The positions of the three columns in a header line, if it is one.
struct Header {
    ip: usize,
    helo: Option<usize>,
    domain: Option<usize>,
}

fn find(names: &[String], wanted: &[&str]) -> Option<usize> {
    names.iter().position(|n| wanted.contains(&n.as_str()))
}

/// `Ok(Some(header))` for a header line naming the IP column, `Ok(None)` for a data line (its
/// first cell is an address, or `self`), an error for a header without an IP column.
fn header_of(fields: &[String], source: &str, line: u64) -> Result<Option<Header>, AuditError> {
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    let first = names.first().map(String::as_str).unwrap_or_default();
    let looks_like_data = mailcheck::sender::parse_ip(first).is_ok() || first == "self";
    if looks_like_data {
        return Ok(None);
    }
    match find(&names, IP_COLUMNS) {
        Some(ip) => Ok(Some(Header {
            ip,
            helo: find(&names, HELO_COLUMNS),
            domain: find(&names, DOMAIN_COLUMNS),
        })),
        None => Err(AuditError::input(
            source,
            Some(line),
            "no IP column: name it `ip` (and `helo`, `domain` for the others), or give no header \
             and put the columns in the order ip,helo,domain",
        )),
    }
}

/// Reads every source (blocking: call off the async runtime).
pub fn read(sources: Vec<Source>) -> Result<SenderInputs, AuditError> {
    let mut out = SenderInputs::default();
    for source in sources {
        let name: Arc<str> = source.name().into();
        let reader: Box<dyn BufRead + Send> = match source {
            Source::File(path) => {
                let f = File::open(&path)
                    .map_err(|e| AuditError::input(&path, None, format!("cannot open: {e}")))?;
                Box::new(BufReader::new(f))
            }
            Source::Stdin => Box::new(BufReader::new(io::stdin())),
            Source::Text { text, .. } => Box::new(io::Cursor::new(text.into_bytes())),
            Source::Domains(words) => {
                return Err(AuditError::Usage(format!(
                    "{} is not a CSV file: give a sender with --ip IP [--helo NAME] [--domain \
                     DOMAIN], or a CSV file with ip, helo and domain columns",
                    words.join(" ")
                )));
            }
        };
        read_one(&name, reader, &mut out)?;
    }
    Ok(out)
}

fn read_one(
    name: &Arc<str>,
    reader: Box<dyn BufRead + Send>,
    out: &mut SenderInputs,
) -> Result<(), AuditError> {
    let mut reader = RecordReader::new(reader);
    let io_err = |e: io::Error| AuditError::input(PathBuf::from(&**name), None, e.to_string());
    let mut header: Option<Header> = None;
    let mut mapping: Vec<Option<usize>> = Vec::new();
    let mut first = true;
    while let Some(record) = reader.next_record().map_err(io_err)? {
        let (line, fields) = match record {
            Record::Fields { line, fields } => (line, fields),
            Record::Malformed { line, raw, reason } => {
                out.rows.push(SenderRow {
                    source: name.clone(),
                    line,
                    ip: raw,
                    helo: None,
                    domain: None,
                    columns: Vec::new(),
                    problem: Some(reason),
                });
                continue;
            }
        };
        if first {
            first = false;
            header = header_of(&fields, name, line)?;
            let h = header.as_ref();
            for (i, f) in fields.iter().enumerate() {
                let ours = h.map_or(i < 3, |h| {
                    i == h.ip || Some(i) == h.helo || Some(i) == h.domain
                });
                if ours {
                    mapping.push(None);
                    continue;
                }
                let label = match h {
                    Some(_) => f.trim_start_matches('\u{feff}').trim().to_owned(),
                    None => String::new(),
                };
                let label = if label.is_empty() {
                    format!("column{}", i + 1)
                } else {
                    label
                };
                let g = out
                    .columns
                    .iter()
                    .position(|c| *c == label)
                    .unwrap_or_else(|| {
                        out.columns.push(label);
                        out.columns.len() - 1
                    });
                mapping.push(Some(g));
            }
            if header.is_some() {
                continue;
            }
        }
        let (ip_col, helo_col, domain_col) = match &header {
            Some(h) => (h.ip, h.helo, h.domain),
            None => (0, Some(1), Some(2)),
        };
        let cell = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
        };
        let mut row = SenderRow {
            source: name.clone(),
            line,
            ip: cell(Some(ip_col)).unwrap_or_default(),
            helo: cell(helo_col),
            domain: cell(domain_col),
            columns: Vec::new(),
            problem: None,
        };
        for (i, f) in fields.iter().enumerate() {
            if let Some(Some(g)) = mapping.get(i) {
                if row.columns.len() <= *g {
                    row.columns.resize(*g + 1, String::new());
                }
                row.columns[*g].clone_from(f);
            }
        }
        out.rows.push(row);
    }
    // Every row as wide as the union of columns.
    let width = out.columns.len();
    for row in &mut out.rows {
        row.columns.resize(width, String::new());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(csv: &str) -> Result<SenderInputs, AuditError> {
        read(vec![Source::Text {
            name: "t.csv".to_owned(),
            text: csv.to_owned(),
        }])
    }

    #[test]
    fn columns_are_found_by_name_in_any_case_and_order() {
        let i = text(
            "Client;Domain;HELO;IP Address\n\
             Acme;acme.example;mail.acme.example;192.0.2.1\n\
             Beta;;;2001:db8::1\n",
        )
        .unwrap();
        assert_eq!(i.columns, ["Client"]);
        assert_eq!(i.rows.len(), 2);
        let r = &i.rows[0];
        assert_eq!(
            (r.ip.as_str(), r.helo.as_deref(), r.domain.as_deref()),
            ("192.0.2.1", Some("mail.acme.example"), Some("acme.example"))
        );
        assert_eq!(r.columns, ["Acme"]);
        assert_eq!(
            (i.rows[1].helo.as_deref(), i.rows[1].domain.as_deref()),
            (None, None)
        );
        assert_eq!(i.rows[1].line, 3);
    }

    #[test]
    fn no_header_is_ip_helo_domain_and_bad_lines_are_rows() {
        let i = text("192.0.2.1,mail.example.com,example.com,extra\nnot-an-ip,x,y\n\"open,quote\n")
            .unwrap();
        assert_eq!(i.columns, ["column4"]);
        assert_eq!(i.rows[0].domain.as_deref(), Some("example.com"));
        assert_eq!(i.rows[0].columns, ["extra"]);
        // An unparseable address is a row (the check makes it invalid), not an error.
        assert_eq!(i.rows[1].ip, "not-an-ip");
        assert!(i.rows[2].problem.is_some(), "{:?}", i.rows[2]);
    }

    #[test]
    fn a_header_without_an_ip_column_is_an_input_error() {
        let e = text("client,domain\nAcme,acme.example\n").unwrap_err();
        assert!(e.to_string().contains("no IP column"), "{e}");
        let e = read(vec![Source::Domains(vec!["example.com".to_owned()])]).unwrap_err();
        assert!(e.to_string().contains("--ip"), "{e}");
    }
}
