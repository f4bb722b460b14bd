//! Reading logical CSV records line by line with bounded memory: quoted fields spanning lines,
//! malformed lines turned into row errors.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use super::sniff::detect_delimiter;
use super::*;

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

pub(super) struct Physical {
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
    /// The last physical line read (1-based).
    pub(super) line: u64,
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

pub(super) fn shorten(s: &str) -> String {
    if s.chars().count() > 200 {
        let mut out: String = s.chars().take(200).collect();
        out.push('…');
        out
    } else {
        s.to_owned()
    }
}

pub(super) fn quotes_open(s: &str) -> bool {
    s.bytes().filter(|&b| b == b'"').count() % 2 == 1
}

/// The fields of one logical record, exactly as CSV decodes them (not trimmed).
pub(super) fn parse_record(text: &str, delimiter: u8) -> Result<Vec<String>, csv::Error> {
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
