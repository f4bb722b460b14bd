//! Reading what to check: domain arguments, CSV files and stdin, streamed row by row with bounded
//! buffers.
//!
//! CSV handling, built for the lists MSPs actually have:
//! - a UTF-8 BOM, blank lines, `#` comment lines and surrounding whitespace are ignored; invalid
//!   UTF-8 is replaced, not fatal;
//! - the delimiter is `,`, or `;` / tab when the first line has no comma (European Excel);
//! - the first line is a header when it names a known column (`domain`, `email`, `website`,
//!   `url`, `host`, …) or when none of its cells looks like a domain or address (no `.`/`@`);
//! - the domain column is the best-named one (domain, then e-mail, then website/URL, then host),
//!   else the first column; e-mail addresses and URLs are reduced to their domain by the library;
//! - every other column is passed through to the reports (named `columnN` without a header)
//!   exactly as read: quoted newlines (`\n` or `\r\n`), quotes, commas, surrounding spaces and
//!   non-ASCII text are kept; only the domain cell and the header names are trimmed;
//! - a malformed line (unbalanced quote, far too long) becomes one `invalid` row with the reason;
//!   the lines after it are read normally. Quoted fields may span up to
//!   [`MAX_CONTINUATION_LINES`] lines;
//! - a column named [`crate::shard::ORIGIN_COLUMN`] (in the shard files `plan` writes) is not
//!   passed through: it is the row's [`Origin`] in the planned input.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::AuditError;
use crate::shard::{ORIGIN_COLUMN, Origin};

/// Longest physical line accepted (longer ones become an `invalid` row).
pub const MAX_LINE: usize = 64 * 1024;
/// How many further lines a quoted field may span before the line counts as malformed.
pub const MAX_CONTINUATION_LINES: usize = 20;

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A CSV file.
    File(PathBuf),
    /// CSV on stdin (`-`).
    Stdin,
    /// CSV text in memory (the demo's list), with a name for reports.
    Text {
        /// Shown as the row's source.
        name: String,
        /// The CSV.
        text: String,
    },
    /// Domains given on the command line.
    Domains(Vec<String>),
}

impl Source {
    /// Sorts command-line inputs: `-` is stdin, an existing file is a CSV, something that looks
    /// like a file name but does not exist is an error, anything else is a domain.
    pub fn classify(inputs: &[String]) -> Result<Vec<Self>, AuditError> {
        let mut out = Vec::new();
        let mut domains = Vec::new();
        let mut stdin_seen = false;
        for input in inputs {
            if input == "-" {
                if stdin_seen {
                    return Err(AuditError::Usage("`-` (stdin) given twice".to_owned()));
                }
                stdin_seen = true;
                flush_domains(&mut out, &mut domains);
                out.push(Self::Stdin);
                continue;
            }
            let path = PathBuf::from(input);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    return Err(AuditError::input(path, None, "is a directory, not a CSV"));
                }
                Ok(_) => {
                    flush_domains(&mut out, &mut domains);
                    out.push(Self::File(path));
                }
                Err(e) if looks_like_path(input) => {
                    return Err(AuditError::input(path, None, format!("cannot open: {e}")));
                }
                Err(_) => domains.push(input.clone()),
            }
        }
        flush_domains(&mut out, &mut domains);
        Ok(out)
    }

    /// The name rows from this source carry.
    pub fn name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "-".to_owned(),
            Self::Text { name, .. } => name.clone(),
            Self::Domains(_) => "argument".to_owned(),
        }
    }
}

fn flush_domains(out: &mut Vec<Source>, domains: &mut Vec<String>) {
    if !domains.is_empty() {
        out.push(Source::Domains(std::mem::take(domains)));
    }
}

fn looks_like_path(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.contains('/')
        || s.contains('\\')
        || [".csv", ".txt", ".tsv", ".lst"]
            .iter()
            .any(|e| lower.ends_with(e))
}

/// One input row: what to check plus the columns to pass through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The file name, `-`, or `argument`.
    pub source: Arc<str>,
    /// The line in the source (1-based; for arguments, the position).
    pub line: u64,
    /// The domain cell as given (a domain, an e-mail address, a URL, or garbage).
    pub input: String,
    /// Pass-through values, aligned to [`Inputs::columns`].
    pub columns: Vec<String>,
    /// Why the line could not be read as CSV (the row is then `invalid`).
    pub problem: Option<String>,
    /// Where the row comes from, for a row of a shard file (see [`crate::shard`]).
    pub origin: Option<Origin>,
}

/// How a CSV source is laid out, as the audit read it: what `plan` needs to write shard files
/// that read the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The header line's cells as read (`None`: the first line is data, and the columns are
    /// named `column1`, `column2`, …).
    pub header: Option<Vec<String>>,
    /// Cells per row: the header's, or the first row's (at least 1). Cells beyond are not read.
    pub width: usize,
    /// Whether the header has an [`ORIGIN_COLUMN`] (the source is a shard file).
    pub has_origin: bool,
}

/// All inputs, opened, with their headers read: ready to stream rows.
#[derive(Debug)]
pub struct Inputs {
    columns: Vec<String>,
    sources: Vec<Opened>,
}

#[derive(Debug)]
enum Opened {
    Domains(Vec<String>),
    Csv(CsvSource),
}

struct CsvSource {
    name: Arc<str>,
    reader: RecordReader<Box<dyn BufRead + Send>>,
    peeked: Option<Record>,
    domain_col: usize,
    /// Source column → global pass-through column.
    mapping: Vec<Option<usize>>,
    /// The [`ORIGIN_COLUMN`], in a shard file.
    origin_col: Option<usize>,
    layout: Layout,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("name", &self.name)
            .field("domain_col", &self.domain_col)
            .field("mapping", &self.mapping)
            .field("origin_col", &self.origin_col)
            .finish_non_exhaustive()
    }
}

impl Inputs {
    /// Opens every source and reads its header (blocking; call off the async runtime).
    pub fn open(sources: Vec<Source>) -> Result<Self, AuditError> {
        let mut columns: Vec<String> = Vec::new();
        let mut opened = Vec::new();
        for source in sources {
            let name = source.name();
            let reader: Box<dyn BufRead + Send> = match source {
                Source::Domains(list) => {
                    opened.push(Opened::Domains(list));
                    continue;
                }
                Source::File(path) => {
                    let f = File::open(&path)
                        .map_err(|e| AuditError::input(&path, None, format!("cannot open: {e}")))?;
                    Box::new(BufReader::with_capacity(64 * 1024, f))
                }
                Source::Stdin => Box::new(BufReader::with_capacity(64 * 1024, io::stdin())),
                Source::Text { text, .. } => Box::new(io::Cursor::new(text.into_bytes())),
            };
            let mut reader = RecordReader::new(reader);
            let first = reader
                .next_record()
                .map_err(|e| AuditError::input(&name, Some(reader.line), e.to_string()))?;
            let mut header = None;
            let (peeked, domain_col, names) = match first {
                Some(Record::Fields { line, fields }) => match header_of(&fields) {
                    Some(col) => {
                        header = Some(fields.clone());
                        let names = fields
                            .iter()
                            .enumerate()
                            .map(|(i, f)| {
                                let f = f.trim_start_matches('\u{feff}').trim();
                                (
                                    i,
                                    if f.is_empty() {
                                        format!("column{}", i + 1)
                                    } else {
                                        f.to_owned()
                                    },
                                )
                            })
                            .collect::<Vec<_>>();
                        (None, col, names)
                    }
                    None => {
                        let names = (0..fields.len())
                            .map(|i| (i, format!("column{}", i + 1)))
                            .collect();
                        (Some(Record::Fields { line, fields }), 0, names)
                    }
                },
                other => (other, 0, Vec::new()),
            };
            let layout = Layout {
                has_origin: header.is_some() && names.iter().any(|(_, n)| n == ORIGIN_COLUMN),
                width: names.len().max(domain_col + 1),
                header,
            };
            let mut mapping = Vec::new();
            let mut used: Vec<String> = Vec::new();
            let mut origin_col = None;
            for (i, n) in names {
                if i == domain_col {
                    mapping.push(None);
                    continue;
                }
                if layout.has_origin && n == ORIGIN_COLUMN && origin_col.is_none() {
                    origin_col = Some(i);
                    mapping.push(None);
                    continue;
                }
                let mut unique = n.clone();
                let mut k = 2;
                while used.contains(&unique) {
                    unique = format!("{n}_{k}");
                    k += 1;
                }
                used.push(unique.clone());
                let g = columns
                    .iter()
                    .position(|c| *c == unique)
                    .unwrap_or_else(|| {
                        columns.push(unique);
                        columns.len() - 1
                    });
                mapping.push(Some(g));
            }
            opened.push(Opened::Csv(CsvSource {
                name: name.into(),
                reader,
                peeked,
                domain_col,
                mapping,
                origin_col,
                layout,
            }));
        }
        Ok(Self {
            columns,
            sources: opened,
        })
    }

    /// The pass-through column names, in order (the union over all sources).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The layout of the first source, when it is CSV (a file, stdin or text).
    pub fn layout(&self) -> Option<&Layout> {
        match self.sources.first()? {
            Opened::Csv(src) => Some(&src.layout),
            Opened::Domains(_) => None,
        }
    }

    /// Streams every row to `sink`, in input order; stops early when `sink` returns false.
    /// Blocking: run it on its own thread.
    pub fn for_each_row(self, mut sink: impl FnMut(Row) -> bool) -> Result<(), AuditError> {
        self.stream(false, |row, _| sink(row))
    }

    /// [`Inputs::for_each_row`] with each CSV row's cells as read (`None` for a malformed line
    /// or a domain argument): for `plan`, which writes them to the shard files.
    pub fn for_each_record(
        self,
        sink: impl FnMut(Row, Option<Vec<String>>) -> bool,
    ) -> Result<(), AuditError> {
        self.stream(true, sink)
    }

    fn stream(
        self,
        keep_cells: bool,
        mut sink: impl FnMut(Row, Option<Vec<String>>) -> bool,
    ) -> Result<(), AuditError> {
        let width = self.columns.len();
        let argument: Arc<str> = Arc::from("argument");
        for source in self.sources {
            match source {
                Opened::Domains(list) => {
                    for (i, d) in list.into_iter().enumerate() {
                        let row = Row {
                            source: argument.clone(),
                            line: i as u64 + 1,
                            input: d,
                            columns: vec![String::new(); width],
                            problem: None,
                            origin: None,
                        };
                        if !sink(row, None) {
                            return Ok(());
                        }
                    }
                }
                Opened::Csv(mut src) => loop {
                    let record = match src.peeked.take() {
                        Some(r) => Some(r),
                        None => src.reader.next_record().map_err(|e| {
                            AuditError::input(&*src.name, Some(src.reader.line), e.to_string())
                        })?,
                    };
                    let Some(record) = record else { break };
                    let cells = match &record {
                        Record::Fields { fields, .. } if keep_cells => Some(fields.clone()),
                        _ => None,
                    };
                    let row = src.row(record, width);
                    if !sink(row, cells) {
                        return Ok(());
                    }
                },
            }
        }
        Ok(())
    }
}

impl CsvSource {
    fn row(&self, record: Record, width: usize) -> Row {
        let mut columns = vec![String::new(); width];
        match record {
            Record::Fields { line, mut fields } => {
                for (i, f) in fields.iter_mut().enumerate() {
                    if let Some(Some(g)) = self.mapping.get(i) {
                        columns[*g] = std::mem::take(f);
                    }
                }
                let input = fields
                    .get(self.domain_col)
                    .map(|f| f.trim().to_owned())
                    .unwrap_or_default();
                let mut row = Row {
                    source: self.name.clone(),
                    line,
                    input,
                    columns,
                    problem: None,
                    origin: None,
                };
                if let Some(i) = self.origin_col {
                    match Origin::from_cell(fields.get(i).map_or("", String::as_str)) {
                        Ok(origin) => {
                            // A malformed input line travels as a well-formed shard row.
                            if let Some(m) = &origin.malformed {
                                row.input.clone_from(&m.input);
                                row.problem = Some(m.reason.clone());
                                row.columns = vec![String::new(); width];
                            }
                            row.origin = Some(origin);
                        }
                        Err(e) => row.problem = Some(e),
                    }
                }
                row
            }
            Record::Malformed { line, raw, reason } => Row {
                source: self.name.clone(),
                line,
                input: raw,
                columns,
                problem: Some(reason),
                origin: None,
            },
        }
    }
}

/// Column names that hold the domain, best first; each entry is a group of equal rank.
const DOMAIN_COLUMNS: &[&[&str]] = &[
    &[
        "domain",
        "domains",
        "domain name",
        "domain_name",
        "domainname",
        "mail domain",
        "mail_domain",
        "fqdn",
    ],
    &[
        "email",
        "e-mail",
        "email address",
        "email_address",
        "e-mail address",
        "mail",
        "address",
        "contact email",
    ],
    &[
        "website", "url", "web", "site", "homepage", "web site", "www",
    ],
    &["host", "hostname", "host name"],
];

/// The domain column if `fields` is a header line, `None` if it is data.
fn header_of(fields: &[String]) -> Option<usize> {
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    for group in DOMAIN_COLUMNS {
        if let Some(i) = names.iter().position(|n| group.contains(&n.as_str())) {
            return Some(i);
        }
    }
    if names.iter().all(|n| !n.contains('.') && !n.contains('@')) {
        return Some(0);
    }
    None
}

/// One logical CSV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Parsed fields, as CSV decodes them (not trimmed).
    Fields {
        /// Line where the record starts.
        line: u64,
        /// The cells.
        fields: Vec<String>,
    },
    /// A line that is not valid CSV.
    Malformed {
        /// Its line.
        line: u64,
        /// The line, shortened.
        raw: String,
        /// What is wrong.
        reason: String,
    },
}

struct Physical {
    line: u64,
    text: String,
    /// The line's end as it was (`\r\n`, `\n`, or nothing at the end of the input), so a quoted
    /// field spanning lines keeps its own line breaks.
    ending: &'static str,
    too_long: bool,
}

/// Reads logical CSV records line by line with bounded memory, skipping blank and comment
/// lines, turning malformed lines into [`Record::Malformed`] instead of failing.
pub struct RecordReader<R> {
    inner: R,
    line: u64,
    pushback: VecDeque<Physical>,
    delimiter: Option<u8>,
}

impl<R> std::fmt::Debug for RecordReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> RecordReader<R> {
    /// Reads from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            line: 0,
            pushback: VecDeque::new(),
            delimiter: None,
        }
    }

    fn physical(&mut self) -> io::Result<Option<Physical>> {
        if let Some(p) = self.pushback.pop_front() {
            return Ok(Some(p));
        }
        let mut buf = Vec::new();
        let limit = MAX_LINE as u64 + 1;
        let n = (&mut self.inner).take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let mut too_long = false;
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
            too_long = true;
            // Skip the rest of the line without keeping it.
            loop {
                let mut rest = Vec::new();
                let n = (&mut self.inner).take(limit).read_until(b'\n', &mut rest)?;
                if n == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            buf.truncate(200);
        }
        let ending = if buf.ends_with(b"\r\n") {
            "\r\n"
        } else if buf.ends_with(b"\n") {
            "\n"
        } else {
            ""
        };
        buf.truncate(buf.len() - ending.len());
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        if self.line == 1 && text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Ok(Some(Physical {
            line: self.line,
            text,
            ending,
            too_long,
        }))
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            let Some(first) = self.physical()? else {
                return Ok(None);
            };
            if first.too_long {
                return Ok(Some(Record::Malformed {
                    line: first.line,
                    raw: shorten(&first.text),
                    reason: format!("line longer than {} KiB", MAX_LINE / 1024),
                }));
            }
            let trimmed = first.text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let delimiter = *self
                .delimiter
                .get_or_insert_with(|| detect_delimiter(trimmed));
            let mut joined = first.text.clone();
            let mut ending = first.ending;
            let mut taken = Vec::new();
            while quotes_open(&joined) {
                if taken.len() >= MAX_CONTINUATION_LINES {
                    break;
                }
                let Some(next) = self.physical()? else { break };
                joined.push_str(ending);
                joined.push_str(&next.text);
                ending = next.ending;
                taken.push(next);
            }
            if quotes_open(&joined) {
                for p in taken.into_iter().rev() {
                    self.pushback.push_front(p);
                }
                return Ok(Some(Record::Malformed {
                    line: first.line,
                    raw: shorten(&first.text),
                    reason: "malformed CSV: a quote is never closed".to_owned(),
                }));
            }
            match parse_record(&joined, delimiter) {
                Ok(fields) if fields.iter().all(|f| f.trim().is_empty()) => {}
                Ok(fields) => {
                    return Ok(Some(Record::Fields {
                        line: first.line,
                        fields,
                    }));
                }
                Err(e) => {
                    return Ok(Some(Record::Malformed {
                        line: first.line,
                        raw: shorten(&first.text),
                        reason: format!("malformed CSV: {e}"),
                    }));
                }
            }
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 200 {
        let mut out: String = s.chars().take(200).collect();
        out.push('…');
        out
    } else {
        s.to_owned()
    }
}

fn quotes_open(s: &str) -> bool {
    s.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

fn detect_delimiter(line: &str) -> u8 {
    let count = |c: char| line.chars().filter(|&x| x == c).count();
    let (commas, semis, tabs) = (count(','), count(';'), count('\t'));
    if commas == 0 && (semis > 0 || tabs > 0) {
        if semis >= tabs { b';' } else { b'\t' }
    } else {
        b','
    }
}

/// The fields of one logical record, exactly as CSV decodes them (not trimmed).
fn parse_record(text: &str, delimiter: u8) -> Result<Vec<String>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut record = csv::ByteRecord::new();
    reader.read_byte_record(&mut record)?;
    Ok(record
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
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
        let got = records(
            "\u{feff}domain,client\n\n# note\n  a.test , A \r\n,,\n , \nb.test,\"B, Inc\"\n",
        );
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
}
