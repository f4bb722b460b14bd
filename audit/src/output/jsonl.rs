//! JSON reports: each JSONL line is the library's `Report` JSON plus a `row` object naming the
//! input row (`source`, `line`, pass-through `columns`; for a shard file's row also `origin` and
//! `column_order`), which `--resume` and `merge` read back. `--format
//! json` prints the bare `Report` for one domain and an array of lines' objects otherwise. With
//! the history on, both carry the history's `run_id` and a `changes` object.

use serde_json::{Map, Value, json};

use super::{Chunk, Finish, Item, Render};
use crate::input::Row;
use crate::summary::Summary;

/// The `row` object of a JSONL line. A row of a shard file also carries its `origin` in the
/// planned input and the pass-through columns' order (`column_order`), which `merge` needs
/// (see [`crate::shard`]).
pub fn row_value(row: &Row, columns: &[String]) -> Value {
    let cols: Map<String, Value> = columns
        .iter()
        .zip(&row.columns)
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut v =
        json!({ "source": &*row.source, "line": row.line, "input": row.input, "columns": cols });
    if let (Some(origin), Value::Object(map)) = (&row.origin, &mut v) {
        map.insert(
            "origin".to_owned(),
            serde_json::to_value(origin).unwrap_or(Value::Null),
        );
        map.insert("column_order".to_owned(), json!(columns));
    }
    v
}

/// The report JSON with the `row` object added, and with the history on, the `run_id` and the
/// `changes` object (see [`crate::history::Changes::to_json`]).
pub fn line_value(item: Item<'_>) -> Value {
    let mut v = serde_json::to_value(item.report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("row".to_owned(), row_value(item.row, item.columns));
        add_history(map, item);
    }
    v
}

fn add_history(map: &mut Map<String, Value>, item: Item<'_>) {
    if let Some(id) = item.run_id {
        map.insert("run_id".to_owned(), Value::String(id.to_owned()));
    }
    if let Some(c) = item.changes {
        map.insert("changes".to_owned(), c.to_json());
    }
}

/// Renders JSONL: one compact object per line.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonlRender;

impl Render for JsonlRender {
    fn start(&self, _columns: &[String]) -> String {
        String::new()
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let mut body = line_value(item).to_string();
        body.push('\n');
        Chunk {
            body,
            details: String::new(),
        }
    }

    fn finish(&self, _summary: &Summary) -> Finish {
        Finish::Append(String::new())
    }
}

/// Renders JSON: the bare report (`single`) or an array of JSONL-line objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRender {
    /// One domain: print the `Report` object itself.
    pub single: bool,
}

impl Render for JsonRender {
    fn start(&self, _columns: &[String]) -> String {
        if self.single {
            String::new()
        } else {
            "[\n".to_owned()
        }
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let body = if self.single {
            let mut v = serde_json::to_value(item.report).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                add_history(map, item);
            }
            serde_json::to_string_pretty(&v).unwrap_or_default()
        } else {
            line_value(item).to_string()
        };
        Chunk {
            body,
            details: String::new(),
        }
    }

    fn separator(&self) -> &'static str {
        if self.single { "\n" } else { ",\n" }
    }

    fn finish(&self, _summary: &Summary) -> Finish {
        Finish::Append(if self.single { "\n" } else { "\n]\n" }.to_owned())
    }
}
