//! The HTTP the Passport nexus speaks, sans IO: request heads read as old clients write them
//! (Pidgin 2.2 asks for `GET /rdr/pprdr.asp` with no HTTP version at all), and responses written
//! byte for byte as the 2003 service's IIS wrote them: header names in its case (`PassportURLs`,
//! `Authentication-Info`, `Content-Length`) and in its order, which strict clients look for
//! with `strncmp`. General-purpose HTTP servers lower-case or title-case names, so these
//! responses are written here.

use std::time::SystemTime;

/// Longest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest request body accepted: a SOAP `RequestMultipleSecurityTokens` of MSN 7.5 or
/// msn-pecan is under 4 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// A request line and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The path without its query.
    pub path: String,
    /// `false` for a request line without a version (HTTP/0.9 style).
    pub has_version: bool,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first header of this name, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body length announced; `None` when it is not a number.
    pub fn content_length(&self) -> Option<usize> {
        match self.header("Content-Length") {
            None => Some(0),
            Some(value) => value.trim().parse().ok(),
        }
    }
}

/// What the bytes read so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// More bytes are needed.
    Partial,
    /// A whole head, and how many bytes it took.
    Complete(RequestHead, usize),
    /// Not HTTP, or too long.
    Invalid,
}

const MAX_HEADERS: usize = 64;

/// Reads a request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Head {
    if let Some(head) = versionless_request(buf) {
        return head;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let (Some(method), Some(target)) = (request.method, request.path) else { return Head::Invalid };
            let headers = request
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let head = RequestHead { method: method.to_owned(), path: path_of(target), has_version: true, headers };
            Head::Complete(head, len)
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => Head::Partial,
        Ok(httparse::Status::Partial) | Err(_) => Head::Invalid,
    }
}

/// `GET /path` and a line end, with no version: the request ends there (an empty line after it
/// is taken with it when it has arrived).
fn versionless_request(buf: &[u8]) -> Option<Head> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&buf[..end]).ok()?.trim_end_matches('\r');
    let mut words = line.split(' ');
    let (method, target, None) = (words.next()?, words.next()?, words.next()) else { return None };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') {
        return None;
    }
    let mut len = end + 1;
    for blank in [&b"\r\n"[..], b"\n"] {
        if buf[len..].starts_with(blank) {
            len += blank.len();
            break;
        }
    }
    let head =
        RequestHead { method: method.to_owned(), path: path_of(target), has_version: false, headers: Vec::new() };
    Some(Head::Complete(head, len))
}

fn path_of(target: &str) -> String {
    target.split('?').next().unwrap_or_default().to_owned()
}

/// A response as the service wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    /// Headers after `Server` and `Date`, in order; `Content-Length` follows them.
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    Unauthorized,
    NotFound,
    ServiceUnavailable,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::ServiceUnavailable => 503,
        }
    }

    fn line(self) -> &'static str {
        match self {
            Status::Ok => "HTTP/1.1 200 OK",
            Status::BadRequest => "HTTP/1.1 400 Bad Request",
            Status::Unauthorized => "HTTP/1.1 401 Unauthorized",
            Status::NotFound => "HTTP/1.1 404 Not Found",
            Status::ServiceUnavailable => "HTTP/1.1 503 Service Unavailable",
        }
    }
}

impl Response {
    pub fn new(status: Status) -> Response {
        Response { status, headers: Vec::new(), content_type: "text/html", body: Vec::new() }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        self.content_type = content_type;
        self.body = body.into();
        self
    }

    /// The bytes on the wire. Every answer closes the connection, as the service's did.
    pub fn encode(&self, now: SystemTime) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(self.status.line());
        out.push_str("\r\nServer: Microsoft-IIS/6.0\r\nDate: ");
        out.push_str(&httpdate::fmt_http_date(now));
        out.push_str("\r\n");
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            // A header value never carries a line end (values are built here, but be sure).
            out.extend(value.chars().filter(|c| *c != '\r' && *c != '\n'));
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\nContent-Type: ");
        out.push_str(self.content_type);
        out.push_str("\r\nContent-Length: ");
        out.push_str(&self.body.len().to_string());
        out.push_str("\r\n\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn pidgin_2_2_asks_for_the_passport_urls_without_a_version() {
        let Head::Complete(head, len) = parse_head(b"GET /rdr/pprdr.asp\r\n\r\n") else { panic!("not complete") };
        assert_eq!(
            (head.method.as_str(), head.path.as_str(), head.has_version, len),
            ("GET", "/rdr/pprdr.asp", false, 22)
        );
        let Head::Complete(head, len) = parse_head(b"GET /rdr/pprdr.asp\r\n") else { panic!("not complete") };
        assert_eq!((head.path.as_str(), len), ("/rdr/pprdr.asp", 20));
    }

    #[test]
    fn heads_are_read_whole_or_asked_more_of() {
        let request = b"GET /login2.srf?x=1 HTTP/1.1\r\nAuthorization: Passport1.4 sign-in=a\r\nHost: h\r\n\r\nrest";
        let Head::Complete(head, len) = parse_head(request) else { panic!("not complete") };
        assert_eq!(len, request.len() - 4);
        assert_eq!(head.path, "/login2.srf");
        assert!(head.has_version);
        assert_eq!(head.header("authorization"), Some("Passport1.4 sign-in=a"));
        assert_eq!(head.content_length(), Some(0));
        for cut in 1..request.len() - 4 {
            assert_eq!(parse_head(&request[..cut]), Head::Partial, "cut at {cut}");
        }
        assert_eq!(parse_head(b"\x16\x03\x01\x00\xa5\x01"), Head::Invalid);
        assert_eq!(parse_head(&vec![b'a'; MAX_HEAD + 1]), Head::Invalid);
        let Head::Complete(head, _) = parse_head(b"POST /RST.srf HTTP/1.1\r\nContent-Length: x\r\n\r\n") else {
            panic!()
        };
        assert_eq!(head.content_length(), None);
    }

    #[test]
    fn responses_keep_the_services_header_case_and_order() {
        let response = Response::new(Status::Ok).header("PassportURLs", "DALogin=h/login2.srf");
        let date = UNIX_EPOCH + Duration::from_secs(1_070_000_000);
        assert_eq!(
            String::from_utf8(response.encode(date)).unwrap(),
            "HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/6.0\r\nDate: Fri, 28 Nov 2003 06:13:20 GMT\r\n\
             PassportURLs: DALogin=h/login2.srf\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n"
        );
        let smuggled = Response::new(Status::Ok).header("X", "a\r\nSet-Cookie: b").encode(date);
        assert!(String::from_utf8(smuggled).unwrap().contains("X: aSet-Cookie: b\r\n"));
    }
}
