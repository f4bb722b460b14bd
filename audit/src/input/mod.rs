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
//!
//! `sniff` finds the layout (delimiter, header, domain column); [`records`] reads the logical
//! records; this module turns them into [`Row`]s across every source. [`Source`] (what an
//! argument names: domains, a file, stdin) is in `source`.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::sync::Arc;

use crate::error::AuditError;
use crate::shard::{ORIGIN_COLUMN, Origin};

pub mod records;
mod sniff;
mod source;
#[cfg(test)]
mod tests;

pub use records::{Record, RecordReader};
use sniff::header_of;
pub use source::Source;

/// Longest physical line accepted (longer ones become an `invalid` row).
pub const MAX_LINE: usize = 64 * 1024;

/// How many further lines a quoted field may span before the line counts as malformed.
pub const MAX_CONTINUATION_LINES: usize = 20;

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
