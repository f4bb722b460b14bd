//! Request bodies decoded as Discord reads them: JSON, or `multipart/form-data` (RFC 7578)
//! whose `payload_json` part is the payload and whose file parts are [`Upload`]s.

use serde_json::Value;

use super::events::Upload;
use super::http::Request;

/// A body decoded as JSON or multipart.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub(super) json: Value,
    pub(super) files: Vec<Upload>,
}

/// Decodes the body of `req` by its `Content-Type`; a blank body decodes to `Null` and no files.
pub(super) fn decode_body(req: &Request) -> Result<Decoded, String> {
    let content_type = req.header("content-type").unwrap_or_default();
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
            .ok_or("multipart without boundary")?;
        let mut decoded = Decoded {
            json: Value::Null,
            files: Vec::new(),
        };
        for part in parse_multipart(&req.body, &boundary)? {
            if part.name == "payload_json" {
                decoded.json = serde_json::from_slice(&part.data)
                    .map_err(|e| format!("payload_json is not JSON: {e}"))?;
            } else if let Some(filename) = part.filename {
                decoded.files.push(Upload {
                    field: part.name,
                    filename,
                    content_type: part.content_type,
                    data: part.data,
                });
            }
        }
        Ok(decoded)
    } else if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(Decoded::default())
    } else {
        let json =
            serde_json::from_slice(&req.body).map_err(|e| format!("body is not JSON: {e}"))?;
        Ok(Decoded {
            json,
            files: Vec::new(),
        })
    }
}

#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts.
fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let start = find(body, delimiter.as_bytes()).ok_or("multipart: no opening boundary")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("multipart: boundary not followed by CRLF")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("multipart: part without header end")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let after_head = &rest[head_end + 4..];
        let data_end = find(after_head, next_delimiter.as_bytes())
            .ok_or("multipart: part without closing boundary")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: Vec::new(),
        };
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    let Some((k, v)) = param.trim().split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => part.name = v,
                        "filename" => part.filename = Some(v),
                        _ => {}
                    }
                }
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            }
        }
        part.data = after_head[..data_end].to_vec();
        parts.push(part);
        rest = &after_head[data_end + next_delimiter.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_and_files() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"t.txt\"\r\n\
Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ\r\nContent-Disposition: form-data; \
name=\"payload_json\"\r\n\r\n{\"content\":\"hi\"}\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "files[0]");
        assert_eq!(parts[0].filename.as_deref(), Some("t.txt"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].data, b"line1\r\nline2");
        assert_eq!(parts[1].name, "payload_json");
        assert_eq!(parts[1].data, b"{\"content\":\"hi\"}");
    }

    #[test]
    fn multipart_without_closing_boundary_is_an_error() {
        assert!(
            parse_multipart(
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nabc",
                "b"
            )
            .is_err()
        );
    }
}
