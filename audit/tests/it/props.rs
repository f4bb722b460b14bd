//! Property tests of the CSV input reader, which reads whatever an MSP's spreadsheet exported:
//! any bytes never panic and every line ends up as a record or a malformed-row error (bounded
//! memory: one line at a time); rows written by a CSV writer — quotes, commas, quoted line
//! breaks, non-ASCII — come back field for field.
//!
//! 256 cases per property by default; `MAILCHECK_PROPTEST_CASES` sets the long run (README,
//! "Property tests").

use mailcheck_audit::input::{Record, RecordReader};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("MAILCHECK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn read_all(bytes: &[u8]) -> Vec<Record> {
    let mut reader = RecordReader::new(std::io::BufReader::new(bytes));
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().expect("reading memory cannot fail") {
        out.push(r);
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_give_records_or_row_errors_never_a_panic(
        bytes in prop::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                1 => Just(b'"'),
                1 => Just(b','),
                1 => Just(b'\n'),
                1 => Just(b'\r'),
            ],
            0..2048,
        ),
    ) {
        let records = read_all(&bytes);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        prop_assert!(records.len() <= lines);
    }

    #[test]
    fn rows_written_as_csv_come_back_field_for_field(
        rows in prop::collection::vec(
            prop::collection::vec("[a-zA-Z0-9 ,\"\\n\\r;é漢=+@-]{0,12}", 3..=3),
            1..12,
        ),
    ) {
        let mut header = vec![vec!["domain".to_owned(), "client".to_owned(), "notes".to_owned()]];
        // A row whose every cell is empty or blank is skipped as a blank line by design.
        header.extend(rows.iter().filter(|r| r.iter().any(|c| !c.trim().is_empty())).cloned());
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        for row in &header {
            writer.write_record(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let records = read_all(&bytes);
        let fields: Vec<Vec<String>> = records
            .iter()
            .filter_map(|r| match r {
                Record::Fields { fields, .. } => Some(fields.clone()),
                Record::Malformed { .. } => None,
            })
            .collect();
        // Lines starting with `#` are comments by design; the writer quotes nothing that
        // starts with `#`, so such rows may vanish.
        let expected: Vec<Vec<String>> = header
            .iter()
            .filter(|r| !r[0].starts_with('#'))
            .cloned()
            .collect();
        prop_assert_eq!(fields, expected);
    }
}
