//! Tests of this module.

use super::*;

fn records(text: &str) -> Vec<Record> {
    let mut r = RecordReader::new(io::Cursor::new(text.as_bytes().to_vec()));
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    out
}

fn fields(line: u64, f: &[&str]) -> Record {
    Record::Fields {
        line,
        fields: f.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn bom_comments_blanks_and_whitespace() {
    let got =
        records("\u{feff}domain,client\n\n# note\n  a.test , A \r\n,,\n , \nb.test,\"B, Inc\"\n");
    // Fields are kept as written (the domain cell is trimmed when the row is made).
    assert_eq!(
        got,
        vec![
            fields(1, &["domain", "client"]),
            fields(4, &["  a.test ", " A "]),
            fields(7, &["b.test", "B, Inc"]),
        ]
    );
}

#[test]
fn multi_line_quoted_field_and_unclosed_quote() {
    let got = records("a.test,\"two\nlines\"\nb.test,\"never closed\nc.test,ok\n");
    assert_eq!(got[0], fields(1, &["a.test", "two\nlines"]));
    assert!(
        matches!(&got[1], Record::Malformed { line: 3, .. }),
        "{got:?}"
    );
    assert_eq!(got[2], fields(4, &["c.test", "ok"]));
    assert_eq!(got.len(), 3);
}

#[test]
fn semicolon_files_and_long_lines() {
    let long = format!("x.test;{}\nz.test;1\n", "y".repeat(MAX_LINE + 10));
    let got = records(&format!("a.test;1\n{long}"));
    assert_eq!(got[0], fields(1, &["a.test", "1"]));
    assert!(matches!(&got[1], Record::Malformed { line: 2, .. }));
    assert_eq!(got[2], fields(3, &["z.test", "1"]));
}

#[test]
fn header_detection() {
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(header_of(&s(&["Client", "Domain"])), Some(1));
    assert_eq!(header_of(&s(&["name", "E-Mail"])), Some(1));
    assert_eq!(header_of(&s(&["name", "notes"])), Some(0));
    assert_eq!(header_of(&s(&["example.com", "Client"])), None);
    assert_eq!(header_of(&s(&["Website", "Email"])), Some(1));
}

#[test]
fn inputs_map_columns_across_sources() {
    let inputs = Inputs::open(vec![
        Source::Text {
            name: "a".into(),
            text: "client,domain,ticket\nA,a.test,1\n".into(),
        },
        Source::Text {
            name: "b".into(),
            text: "email,client\nx@b.test,B\n".into(),
        },
        Source::Text {
            name: "c".into(),
            text: "c.test\n".into(),
        },
    ])
    .unwrap();
    assert_eq!(inputs.columns(), ["client", "ticket"]);
    let mut rows = Vec::new();
    inputs
        .for_each_row(|r| {
            rows.push(r);
            true
        })
        .unwrap();
    assert_eq!(rows[0].input, "a.test");
    assert_eq!(rows[0].columns, ["A", "1"]);
    assert_eq!(rows[1].input, "x@b.test");
    assert_eq!(rows[1].columns, ["B", ""]);
    assert_eq!(rows[2].input, "c.test");
    assert_eq!(rows[2].line, 1);
}
