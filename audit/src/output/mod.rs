//! Reports: one renderer per format (pure: `Report` in, text out, run on rayon) and the sinks that
//! write them (stdout, or files written atomically: a temporary file in the same directory,
//! written and flushed row by row as results complete, renamed into place at the end). The JSONL
//! report is the exception: it is the resume source, so it is appended to in place and flushed
//! after every line, and a killed run leaves a usable file.
//!
//! - [`text`]: terminal output (one domain in detail, or one line per row).
//! - [`csv`]: the fixed CSV schema ([`csv::COLUMNS`]), Excel-safe.
//! - [`jsonl`]: one full `Report` per line (plus the input row), and the JSON array/object.
//! - [`html`]: a self-contained page for a client.
//! - [`markdown`]: the same for tickets and wikis.

pub mod csv;
pub mod html;
pub mod jsonl;
pub mod markdown;
pub mod text;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailcheck::Report;

use crate::error::AuditError;
use crate::input::Row;
use crate::summary::Summary;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON: the report object for one domain, an array otherwise.
    Json,
    /// One JSON report per line.
    Jsonl,
    /// The fixed CSV schema.
    Csv,
    /// A self-contained HTML page.
    Html,
    /// Markdown.
    Markdown,
}

impl Format {
    /// The format a file name asks for, by extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => Self::Csv,
            "jsonl" | "ndjson" => Self::Jsonl,
            "json" => Self::Json,
            "html" | "htm" => Self::Html,
            "md" | "markdown" => Self::Markdown,
            "txt" => Self::Text,
            _ => return None,
        })
    }
}

/// What a renderer produced for one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    /// The main part (a CSV line, a JSON line, a table row).
    pub body: String,
    /// A second part documents put after the table (per-domain details).
    pub details: String,
}

/// What a renderer writes at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Append this after the rows.
    Append(String),
    /// A document whose head needs the summary: `head`, the rows, `middle`, the details, `tail`.
    Document {
        /// Before the rows (title, summary, table header).
        head: String,
        /// Between the rows and the details.
        middle: String,
        /// After the details.
        tail: String,
    },
}

/// One row to render: the input row and its report.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The input row.
    pub row: &'a Row,
    /// Its report.
    pub report: &'a Report,
    /// Pass-through column names.
    pub columns: &'a [String],
    /// What changed since the domain's previous run (`None`: no history).
    pub changes: Option<&'a crate::history::Changes>,
    /// The history's run id (`None`: no history).
    pub run_id: Option<&'a str>,
    /// The domain's verdicts in its latest earlier runs, oldest first (empty: no history, or
    /// first recorded run).
    pub trend: &'a [crate::history::Past],
}

/// A pure renderer for one format.
pub trait Render: Send + Sync + std::fmt::Debug {
    /// Written when the output opens (a CSV header, `[`).
    fn start(&self, columns: &[String]) -> String;
    /// One row.
    fn row(&self, item: Item<'_>) -> Chunk;
    /// Written before every row but the first (`,` between JSON array elements).
    fn separator(&self) -> &'static str {
        ""
    }
    /// Written at the end.
    fn finish(&self, summary: &Summary) -> Finish;
}

/// Where a renderer's output goes.
#[derive(Debug)]
enum Target {
    Stdout(BufWriter<io::Stdout>),
    /// A temporary file renamed to `path` at the end.
    Atomic {
        file: BufWriter<tempfile::NamedTempFile>,
        details: Option<BufWriter<File>>,
    },
    /// Appended in place, flushed per line (JSONL).
    Append(BufWriter<File>),
}

/// One open report.
#[derive(Debug)]
pub struct Sink {
    path: PathBuf,
    render: Arc<dyn Render>,
    target: Target,
    rows: u64,
    /// The JSONL being resumed: rows taken from it are not written again.
    pub resume_source: bool,
    document: bool,
}

impl Sink {
    /// Standard output.
    pub fn stdout(render: Arc<dyn Render>, columns: &[String]) -> Result<Self, AuditError> {
        let mut out = BufWriter::new(io::stdout());
        let start = render.start(columns);
        out.write_all(start.as_bytes())
            .map_err(|e| AuditError::output("-", e))?;
        Ok(Self {
            path: PathBuf::from("-"),
            render,
            target: Target::Stdout(out),
            rows: 0,
            resume_source: false,
            document: false,
        })
    }

    /// A report file: JSONL appended in place (`append` keeps what is there), everything else
    /// written atomically.
    pub fn file(
        path: &Path,
        format: Format,
        render: Arc<dyn Render>,
        columns: &[String],
        append: bool,
    ) -> Result<Self, AuditError> {
        let err = |e| AuditError::output(path, e);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let document = matches!(format, Format::Html | Format::Markdown);
        let mut target = if format == Format::Jsonl {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(path)
                .map_err(err)?;
            Target::Append(BufWriter::new(f))
        } else {
            let tmp = tempfile::Builder::new()
                .prefix(".mailcheck-")
                .suffix(".part")
                .tempfile_in(&dir)
                .map_err(err)?;
            let details = if document {
                Some(BufWriter::new(tempfile::tempfile_in(&dir).map_err(err)?))
            } else {
                None
            };
            Target::Atomic {
                file: BufWriter::new(tmp),
                details,
            }
        };
        let start = render.start(columns);
        if !start.is_empty() {
            match &mut target {
                Target::Atomic { file, .. } => file.write_all(start.as_bytes()),
                Target::Append(f) => f.write_all(start.as_bytes()),
                Target::Stdout(o) => o.write_all(start.as_bytes()),
            }
            .map_err(err)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            render,
            target,
            rows: 0,
            resume_source: false,
            document,
        })
    }

    /// The renderer (to render rows off the writer thread).
    pub fn renderer(&self) -> Arc<dyn Render> {
        Arc::clone(&self.render)
    }

    /// Writes one rendered row and flushes it.
    pub fn write(&mut self, chunk: &Chunk) -> Result<(), AuditError> {
        let sep = if self.rows > 0 {
            self.render.separator()
        } else {
            ""
        };
        self.rows += 1;
        let res = match &mut self.target {
            Target::Stdout(o) => write_flush(o, sep, &chunk.body),
            Target::Append(f) => write_flush(f, sep, &chunk.body),
            Target::Atomic { file, details } => {
                write_flush(file, sep, &chunk.body).and_then(|()| match details {
                    Some(d) if !chunk.details.is_empty() => d.write_all(chunk.details.as_bytes()),
                    _ => Ok(()),
                })
            }
        };
        res.map_err(|e| AuditError::output(&self.path, e))
    }

    /// Writes the end and puts the file in place.
    pub fn finish(self, summary: &Summary) -> Result<(), AuditError> {
        let path = self.path;
        let err = |e| AuditError::output(&path, e);
        let finish = self.render.finish(summary);
        match self.target {
            Target::Stdout(mut o) => {
                if let Finish::Append(s) = finish {
                    o.write_all(s.as_bytes()).map_err(err)?;
                }
                o.flush().map_err(err)
            }
            Target::Append(mut f) => {
                if let Finish::Append(s) = finish {
                    f.write_all(s.as_bytes()).map_err(err)?;
                }
                f.flush().map_err(err)?;
                f.get_ref().sync_all().map_err(err)
            }
            Target::Atomic { file, details } => {
                let mut tmp = file.into_inner().map_err(|e| err(e.into_error()))?;
                match finish {
                    Finish::Append(s) => tmp.write_all(s.as_bytes()).map_err(err)?,
                    Finish::Document { head, middle, tail } => {
                        // The rows were streamed into the temp file; the head needs the
                        // summary, so the document is assembled in a second temp file.
                        let dir = tmp.path().parent().map(Path::to_path_buf);
                        let mut doc = tempfile::Builder::new()
                            .prefix(".mailcheck-")
                            .suffix(".part")
                            .tempfile_in(dir.unwrap_or_else(|| PathBuf::from(".")))
                            .map_err(err)?;
                        doc.write_all(head.as_bytes()).map_err(err)?;
                        tmp.rewind().map_err(err)?;
                        io::copy(&mut tmp, &mut doc).map_err(err)?;
                        doc.write_all(middle.as_bytes()).map_err(err)?;
                        if let Some(d) = details {
                            let mut d = d.into_inner().map_err(|e| err(e.into_error()))?;
                            d.rewind().map_err(err)?;
                            io::copy(&mut d, &mut doc).map_err(err)?;
                        }
                        doc.write_all(tail.as_bytes()).map_err(err)?;
                        tmp = doc;
                    }
                }
                tmp.flush().map_err(err)?;
                tmp.as_file().sync_all().map_err(err)?;
                let tmp_path = tmp.into_temp_path();
                set_readable(&tmp_path);
                tmp_path.persist(&path).map_err(|e| err(e.error))
            }
        }
    }

    /// Whether this is a document (HTML/Markdown).
    pub const fn is_document(&self) -> bool {
        self.document
    }
}

/// Temp files are created 0600; a report is an ordinary file.
pub(crate) fn set_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn write_flush(w: &mut impl Write, sep: &str, body: &str) -> io::Result<()> {
    w.write_all(sep.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}

/// Renders one row for every sink (CPU work: call it on rayon, not on a tokio worker).
pub fn render_all(renderers: &[Arc<dyn Render>], item: Item<'_>) -> Vec<Chunk> {
    renderers.iter().map(|r| r.row(item)).collect()
}
