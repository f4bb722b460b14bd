//! [`HttpResponse`]: one configured response (status, headers, body, framing) and its wire
//! form.

/// One configured response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    content_length: bool,
}

impl HttpResponse {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
        }
    }

    /// `200 OK`, `Content-Type: text/plain`, this body: how a policy is served.
    pub fn text(body: &str) -> Self {
        Self::new(200)
            .header("Content-Type", "text/plain")
            .body(body)
    }

    /// `404 Not Found` with a short text body.
    pub fn not_found() -> Self {
        Self::new(404)
            .header("Content-Type", "text/plain")
            .body("not found\n")
    }

    /// A redirect (`301`, `302`, `307`, `308`) to `location`, with a short HTML body.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::new(status)
            .header("Location", location)
            .header("Content-Type", "text/html")
            .body(format!("<a href=\"{location}\">moved</a>\n"))
    }

    /// Adds a header (sent in the order added). A `Content-Length` given here replaces the
    /// computed one, true or not.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends no `Content-Length`: the body ends when the server closes the connection (a
    /// client must cap what it reads by itself).
    #[must_use]
    pub fn without_content_length(mut self) -> Self {
        self.content_length = false;
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    pub(super) fn wire_head(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let mut has_length = false;
        for (name, value) in &self.headers {
            has_length |= name.eq_ignore_ascii_case("content-length");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.content_length && !has_length {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_render() {
        let r = HttpResponse::text("x");
        assert_eq!(
            String::from_utf8(r.wire_head()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\
             Connection: close\r\n\r\n"
        );
        let r = HttpResponse::redirect(301, "https://b.test/").without_content_length();
        let head = String::from_utf8(r.wire_head()).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 301 Moved Permanently\r\nLocation: https://b.test/\r\n")
        );
        assert!(!head.contains("Content-Length"));
    }
}
