//! The reports of a run (or a merge): each `-o` path's format by its extension, and every
//! report's sink with its renderer, stdout first: the one output layer of runs and merges.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::StdoutFormat;
use crate::error::AuditError;
use crate::output::csv::CsvRender;
use crate::output::html::HtmlRender;
use crate::output::jsonl::{JsonRender, JsonlRender};
use crate::output::markdown::MarkdownRender;
use crate::output::text::TextRender;
use crate::output::{Format, Render, Sink};

/// The report format of each `-o` path, by extension.
pub fn report_formats(outputs: &[PathBuf]) -> Result<Vec<(PathBuf, Format)>, AuditError> {
    outputs
        .iter()
        .map(|path| {
            let f = Format::from_path(path).ok_or_else(|| {
                AuditError::Usage(format!(
                    "-o {}: unknown report format; use .csv .jsonl .json .html .md",
                    path.display()
                ))
            })?;
            Ok((path.clone(), f))
        })
        .collect()
}

/// The reports to open for a run (or a merge).
#[derive(Debug, Clone, Copy)]
pub struct Reports<'a> {
    /// The `-o` files and their formats.
    pub formats: &'a [(PathBuf, Format)],
    /// The stdout format, if anything goes to stdout.
    pub stdout: Option<StdoutFormat>,
    /// The pass-through column names.
    pub columns: &'a [String],
    /// The HTML and Markdown title.
    pub title: &'a str,
    /// Text reports show each domain in detail (only domains were given).
    pub detailed: bool,
    /// One domain: JSON on stdout is the bare report.
    pub single: bool,
    /// The JSONL being resumed (appended to, not truncated).
    pub resume: Option<&'a Path>,
    /// A run history is kept: the HTML report shows the change and trend columns.
    pub history: bool,
}

/// Opens every report's sink, stdout first, with its renderer: the one output layer of runs
/// and merges.
pub fn open_sinks(r: &Reports<'_>) -> Result<Vec<Sink>, AuditError> {
    let mut sinks = Vec::new();
    if let Some(f) = r.stdout {
        let color = f == StdoutFormat::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let render: Arc<dyn Render> = match f {
            StdoutFormat::Text => Arc::new(TextRender {
                detailed: r.detailed,
                color,
            }),
            StdoutFormat::Json => Arc::new(JsonRender { single: r.single }),
            StdoutFormat::Jsonl => Arc::new(JsonlRender),
            StdoutFormat::Csv => Arc::new(CsvRender),
        };
        sinks.push(Sink::stdout(render, r.columns)?);
    }
    for (path, format) in r.formats {
        let render: Arc<dyn Render> = match format {
            Format::Text => Arc::new(TextRender {
                detailed: r.detailed,
                color: false,
            }),
            Format::Json => Arc::new(JsonRender { single: false }),
            Format::Jsonl => Arc::new(JsonlRender),
            Format::Csv => Arc::new(CsvRender),
            Format::Html => Arc::new(HtmlRender {
                columns: r.columns.to_vec(),
                title: r.title.to_owned(),
                history: r.history,
            }),
            Format::Markdown => Arc::new(MarkdownRender {
                columns: r.columns.to_vec(),
                title: r.title.to_owned(),
            }),
        };
        let is_resume = r.resume == Some(path.as_path());
        let mut sink = Sink::file(path, *format, render, r.columns, is_resume)?;
        sink.resume_source = is_resume;
        sinks.push(sink);
    }
    Ok(sinks)
}
