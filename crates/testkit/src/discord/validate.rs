//! Discord's checks of a message payload (content, embeds, components, files). A refused
//! payload gets 400 `{"code":50035,"message":"Invalid Form Body","errors":{…}}` with Discord's
//! nested error tree; a file over the interaction's attachment size limit gets 413 (40005).
//! Lengths count Unicode code points.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::events::Upload;
use super::http::Response;

/// Longest `content`.
pub(super) const MAX_CONTENT: usize = 2000;
/// Most embeds per message.
pub(super) const MAX_EMBEDS: usize = 10;
/// Most characters in all embeds of a message together.
pub(super) const MAX_EMBED_TOTAL: usize = 6000;

/// One problem: where (path segments under the payload) and what.
type Problem = (Vec<String>, &'static str, String);

#[derive(Debug, Default)]
struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    fn push(&mut self, path: &[&str], code: &'static str, message: String) {
        self.list.push((
            path.iter().map(|s| (*s).to_owned()).collect(),
            code,
            message,
        ));
    }

    fn max_len(&mut self, path: &[&str], value: Option<&Value>, max: usize) -> usize {
        let n = value
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count());
        if n > max {
            self.push(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {max} or fewer in length."),
            );
        }
        n
    }

    fn required_text(&mut self, path: &[&str], value: Option<&Value>, max: usize) -> usize {
        if value.and_then(Value::as_str).is_none_or(str::is_empty) {
            self.push(
                path,
                "BASE_TYPE_REQUIRED",
                "This field is required".to_owned(),
            );
            return 0;
        }
        self.max_len(path, value, max)
    }

    fn max_items(&mut self, path: &[&str], items: usize, max: usize) {
        if items > max {
            self.push(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {max} or fewer in length."),
            );
        }
    }
}

/// Checks a message payload. `root` is where the message sits in the body (`["data"]` in a
/// callback, empty for webhook calls); `attachment_limit` is the interaction's
/// `attachment_size_limit`.
pub(super) fn check_message(
    payload: &Value,
    files: &[Upload],
    attachment_limit: u32,
    root: &[&str],
) -> Result<(), Response> {
    if files
        .iter()
        .any(|f| f.data.len() > attachment_limit as usize)
    {
        return Err(Response::error(413, 40005, "Request entity too large"));
    }
    let mut problems = Problems::default();
    problems.max_len(&["content"], payload.get("content"), MAX_CONTENT);
    if let Some(embeds) = payload.get("embeds").and_then(Value::as_array) {
        check_embeds(&mut problems, embeds);
    }
    if let Some(rows) = payload.get("components").and_then(Value::as_array) {
        check_components(&mut problems, rows);
    }
    if problems.list.is_empty() {
        return Ok(());
    }
    let mut errors = Map::new();
    for (path, code, message) in problems.list {
        let full: Vec<String> = root.iter().map(|s| (*s).to_owned()).chain(path).collect();
        insert_error(&mut errors, &full, code, &message);
    }
    Err(Response::json(
        400,
        json!({ "code": 50035, "message": "Invalid Form Body", "errors": errors }),
    ))
}

fn insert_error(tree: &mut Map<String, Value>, path: &[String], code: &str, message: &str) {
    let mut node = tree;
    for segment in path {
        node = node
            .entry(segment.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("error tree nodes are objects");
    }
    let list = node.entry("_errors").or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        list.push(json!({ "code": code, "message": message }));
    }
}

fn check_embeds(problems: &mut Problems, embeds: &[Value]) {
    problems.max_items(&["embeds"], embeds.len(), MAX_EMBEDS);
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let i = i.to_string();
        let at = |rest: &[&'static str]| -> Vec<&str> {
            let mut p = vec!["embeds", i.as_str()];
            p.extend_from_slice(rest);
            p
        };
        total += problems.max_len(&at(&["title"]), embed.get("title"), 256);
        total += problems.max_len(&at(&["description"]), embed.get("description"), 4096);
        total += problems.max_len(
            &at(&["footer", "text"]),
            embed.pointer("/footer/text"),
            2048,
        );
        total += problems.max_len(&at(&["author", "name"]), embed.pointer("/author/name"), 256);
        let fields = embed
            .get("fields")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        problems.max_items(&at(&["fields"]), fields.len(), 25);
        for (j, field) in fields.iter().enumerate() {
            let j = j.to_string();
            let mut name = at(&["fields"]);
            name.extend([j.as_str(), "name"]);
            total += problems.required_text(&name, field.get("name"), 256);
            let mut value = at(&["fields"]);
            value.extend([j.as_str(), "value"]);
            total += problems.required_text(&value, field.get("value"), 1024);
        }
    }
    if total > MAX_EMBED_TOTAL {
        problems.push(
            &["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            format!("Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"),
        );
    }
}

/// Component types that take a `custom_id`: button (2) and the select menus.
const SELECTS: [u64; 5] = [3, 5, 6, 7, 8];
/// The button style of a link button.
const LINK_STYLE: u64 = 5;

fn check_components(problems: &mut Problems, rows: &[Value]) {
    problems.max_items(&["components"], rows.len(), 5);
    let mut seen = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let i = i.to_string();
        let row_path = ["components", i.as_str()];
        if row.get("type").and_then(Value::as_u64) != Some(1) {
            problems.push(
                &[&row_path[..], &["type"]].concat(),
                "COMPONENT_TYPE_INVALID",
                "Top-level components must be action rows (type 1)".to_owned(),
            );
            continue;
        }
        let children = row
            .get("components")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let children_path = [&row_path[..], &["components"]].concat();
        if children.is_empty() {
            problems.push(
                &children_path,
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.".to_owned(),
            );
        }
        problems.max_items(&children_path, children.len(), 5);
        let has_select = children.iter().any(|c| {
            c.get("type")
                .and_then(Value::as_u64)
                .is_some_and(|t| SELECTS.contains(&t))
        });
        if has_select && children.len() > 1 {
            problems.push(
                &children_path,
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width".to_owned(),
            );
        }
        for (j, child) in children.iter().enumerate() {
            let j = j.to_string();
            let path = [&children_path[..], &[j.as_str()]].concat();
            check_component(problems, &path, child, &mut seen);
        }
    }
}

fn check_component(
    problems: &mut Problems,
    path: &[&str],
    component: &Value,
    seen: &mut HashSet<String>,
) {
    let at = |field: &'static str| [path, &[field]].concat();
    let kind = component.get("type").and_then(Value::as_u64);
    let custom_id = component.get("custom_id");
    let is_link =
        kind == Some(2) && component.get("style").and_then(Value::as_u64) == Some(LINK_STYLE);
    if kind == Some(2) {
        problems.max_len(&at("label"), component.get("label"), 80);
    }
    if is_link {
        if component
            .get("url")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(
                &at("url"),
                "BASE_TYPE_REQUIRED",
                "This field is required".to_owned(),
            );
        }
        if custom_id.is_some_and(|c| !c.is_null()) {
            problems.push(
                &at("custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A link button cannot have a custom_id".to_owned(),
            );
        }
        return;
    }
    if kind == Some(2) || kind.is_some_and(|t| SELECTS.contains(&t)) {
        problems.required_text(&at("custom_id"), custom_id, 100);
        if let Some(id) = custom_id.and_then(Value::as_str)
            && !id.is_empty()
            && !seen.insert(id.to_owned())
        {
            problems.push(
                &at("custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated".to_owned(),
            );
        }
    } else {
        problems.push(
            &at("type"),
            "COMPONENT_TYPE_INVALID",
            "The specified component type is invalid in this context".to_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(payload: Value) -> Value {
        let response = check_message(&payload, &[], 8, &["data"]).unwrap_err();
        assert_eq!(response.status, 400);
        let body = response.body.unwrap();
        assert_eq!(body["code"], 50035);
        assert_eq!(body["message"], "Invalid Form Body");
        body["errors"]["data"].clone()
    }

    fn first_code(node: &Value) -> &str {
        node["_errors"][0]["code"].as_str().unwrap()
    }

    #[test]
    fn content_counts_code_points() {
        let ok = json!({ "content": "é".repeat(MAX_CONTENT) });
        assert!(check_message(&ok, &[], 8, &[]).is_ok());
        let e = errors(json!({ "content": "é".repeat(MAX_CONTENT + 1) }));
        assert_eq!(first_code(&e["content"]), "BASE_TYPE_MAX_LENGTH");
    }

    #[test]
    fn embed_limits() {
        let long = |n: usize| "x".repeat(n);
        let e = errors(json!({ "embeds": [{ "title": long(257) }] }));
        assert_eq!(
            first_code(&e["embeds"]["0"]["title"]),
            "BASE_TYPE_MAX_LENGTH"
        );
        let fields: Vec<Value> = (0..26)
            .map(|_| json!({"name": "n", "value": "v"}))
            .collect();
        let e = errors(json!({ "embeds": [{ "fields": fields }] }));
        assert!(e["embeds"]["0"]["fields"]["_errors"].is_array());
        let e = errors(json!({ "embeds": [{ "fields": [{"name": "", "value": long(1025)}] }] }));
        assert_eq!(
            first_code(&e["embeds"]["0"]["fields"]["0"]["name"]),
            "BASE_TYPE_REQUIRED"
        );
        assert_eq!(
            first_code(&e["embeds"]["0"]["fields"]["0"]["value"]),
            "BASE_TYPE_MAX_LENGTH"
        );
        let e = errors(json!({ "embeds": [
            { "footer": { "text": long(2049) }, "author": { "name": long(257) } }
        ] }));
        assert!(e["embeds"]["0"]["footer"]["text"].is_object());
        assert!(e["embeds"]["0"]["author"]["name"].is_object());
        // Each part within its own limit, 6001 in all.
        let e = errors(json!({ "embeds": [
            { "description": long(4096) }, { "description": long(1905) }
        ] }));
        assert_eq!(first_code(&e["embeds"]), "MAX_EMBED_SIZE_EXCEEDED");
        let eleven: Vec<Value> = (0..11).map(|_| json!({"title": "t"})).collect();
        let e = errors(json!({ "embeds": eleven }));
        assert_eq!(first_code(&e["embeds"]), "BASE_TYPE_MAX_LENGTH");
    }

    #[test]
    fn component_limits() {
        let button = |id: &str| json!({"type": 2, "style": 1, "custom_id": id, "label": "b"});
        let ok = json!({ "components": [
            { "type": 1, "components": [button("a"), button("b"),
                {"type": 2, "style": 5, "url": "https://example.test", "label": "l"}] }
        ] });
        assert!(check_message(&ok, &[], 8, &[]).is_ok());
        let six: Vec<Value> = (0..6).map(|i| button(&i.to_string())).collect();
        let e = errors(json!({ "components": [{ "type": 1, "components": six }] }));
        assert!(e["components"]["0"]["components"]["_errors"].is_array());
        let rows: Vec<Value> = (0..6)
            .map(|i| json!({"type": 1, "components": [button(&format!("r{i}"))]}))
            .collect();
        let e = errors(json!({ "components": rows }));
        assert!(e["components"]["_errors"].is_array());
        let e = errors(json!({ "components": [{ "type": 1, "components": [
            {"type": 2, "style": 1, "custom_id": "x".repeat(101), "label": "y".repeat(81)},
            {"type": 2, "style": 5, "custom_id": "no"},
            button("dup"), button("dup"),
        ] }] }));
        let c = &e["components"]["0"]["components"];
        assert_eq!(first_code(&c["0"]["custom_id"]), "BASE_TYPE_MAX_LENGTH");
        assert_eq!(first_code(&c["0"]["label"]), "BASE_TYPE_MAX_LENGTH");
        assert_eq!(first_code(&c["1"]["url"]), "BASE_TYPE_REQUIRED");
        assert!(c["1"]["custom_id"].is_object());
        assert_eq!(
            first_code(&c["3"]["custom_id"]),
            "COMPONENT_CUSTOM_ID_DUPLICATED"
        );
        let e = errors(json!({ "components": [button("top")] }));
        assert_eq!(
            first_code(&e["components"]["0"]["type"]),
            "COMPONENT_TYPE_INVALID"
        );
    }

    #[test]
    fn files_over_the_limit_are_too_large() {
        let file = Upload {
            field: "files[0]".to_owned(),
            filename: "f".to_owned(),
            content_type: None,
            data: vec![0; 9],
        };
        let response = check_message(&json!({}), &[file], 8, &[]).unwrap_err();
        assert_eq!(response.status, 413);
        assert_eq!(response.body.unwrap()["code"], 40005);
    }
}
