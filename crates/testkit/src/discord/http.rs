//! HTTP/1.1 on any byte stream (plain TCP or TLS): one request per connection, bodies sized or
//! chunked, held while a scripted hold matches; the answer is written and the connection
//! closed. Bodies are decoded in `body.rs`, routing lives in `rest.rs`.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::events::DiscordEvent;
use super::state::Shared;

/// Largest request body the stand-in accepts (bigger ones get 400 and are recorded as `Other`).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest request head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// A parsed HTTP request.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string.
    pub(super) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// An HTTP response to write.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) headers: Vec<(String, String)>,
    /// Close the connection without writing anything.
    pub(super) hang_up: bool,
}

impl Response {
    pub(super) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            hang_up: false,
        }
    }

    pub(super) fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            headers: Vec::new(),
            hang_up: false,
        }
    }

    pub(super) fn error(status: u16, code: u64, message: &str) -> Self {
        Self::json(status, json!({ "message": message, "code": code }))
    }

    pub(super) fn hang_up() -> Self {
        Self {
            status: 0,
            body: None,
            headers: Vec::new(),
            hang_up: true,
        }
    }

    pub(super) fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The JSON body of an error answer (4xx/5xx), as recorded.
    pub(super) fn error_body(&self) -> Option<Value> {
        (self.status >= 400).then(|| self.body.clone()).flatten()
    }
}

/// Accepts plain TCP connections and serves each on its own task.
pub(super) async fn serve_plain(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, &shared).await {
                tracing::debug!("stand-in HTTP connection failed: {e}");
            }
        });
    }
}

/// Reads one request from `stream`, answers it and closes.
pub(super) async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let response = match read_request(&mut reader).await {
        Ok(req) => {
            super::hold::wait(shared, &req).await;
            super::rest::handle(shared, &req)
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            let response = Response::error(400, 0, "400: Bad Request");
            shared.record_answer(
                DiscordEvent::Other {
                    method: String::new(),
                    path: String::new(),
                    status: 400,
                    body: e.to_string(),
                },
                Some(400),
                response.error_body(),
            );
            response
        }
        Err(e) => return Err(e),
    };
    let mut stream = reader.into_inner();
    if response.hang_up {
        return stream.shutdown().await;
    }
    let body = response.body.map(|b| b.to_string()).unwrap_or_default();
    let reason = match response.status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nConnection: close\r\n",
        response.status
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.status != 204 {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    budget: &mut usize,
) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = reader.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    *budget = budget
        .checked_sub(n)
        .ok_or_else(|| invalid("request head too large"))?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("request head is not UTF-8"))
}

pub(super) async fn read_request<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<Request> {
    let mut budget = MAX_HEAD;
    let request_line = read_line(reader, &mut budget).await?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("bad header line {line:?}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader, &mut budget).await?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(reader, &mut budget).await?.is_empty() {}
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            reader.read_exact(&mut req.body[start..]).await?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).await?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        req.body.resize(len, 0);
        reader.read_exact(&mut req.body).await?;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunked_and_sized_bodies() {
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        let mut reader = BufReader::new(&raw[..]);
        let req = read_request(&mut reader).await.unwrap();
        assert_eq!(req.body, b"Wikipedia");
        let raw = b"PUT /y HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcdef";
        let mut reader = BufReader::new(&raw[..]);
        let req = read_request(&mut reader).await.unwrap();
        assert_eq!((req.method.as_str(), req.target.as_str()), ("PUT", "/y"));
        assert_eq!(req.body, b"abc");
    }
}
