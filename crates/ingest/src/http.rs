//! A small blocking HTTP/1.1 client for JSON-RPC nodes and webhooks on plain `http://` URLs.
//!
//! Nodes are usually reached on localhost or a private network; for `https://`, put a TLS proxy in
//! front. One request per connection, timeouts on connect, read and write, and a cap on the size
//! of an answer, so that a hostile or broken peer cannot hang or exhaust the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest response body [`post`] accepts (a 4 MB block is 8 MB of hex, plus JSON).
pub const MAX_BODY: usize = 64 << 20;

/// Errors of an HTTP exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is not `http://host[:port][/path]`.
    #[error("unsupported url `{url}`: expected http://host[:port][/path]")]
    Url {
        /// The URL given.
        url: String,
    },
    /// Connecting, sending or receiving failed (or timed out).
    #[error("{url}: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The answer is not valid HTTP.
    #[error("{url}: malformed http answer ({what})")]
    Malformed {
        /// The URL.
        url: String,
        /// What was wrong.
        what: &'static str,
    },
}

/// An HTTP response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Sends `POST url` with `body` and extra `headers`, and returns the response.
///
/// # Errors
///
/// [`HttpError`] for a bad URL, a network failure or timeout, or a malformed answer.
pub fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    post_limited(url, headers, body, timeout, MAX_BODY)
}

/// Like [`post`], accepting response bodies of up to `max_body` bytes (JSON-RPC batches of EVM
/// blocks with receipts and traces reach tens of megabytes).
///
/// # Errors
///
/// [`HttpError`] for a bad URL, a network failure or timeout, or a malformed answer.
pub fn post_limited(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
    max_body: usize,
) -> Result<Response, HttpError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| HttpError::Url { url: url.to_owned() })?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HttpError::Url { url: url.to_owned() });
    }
    let with_port =
        if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let io = |source| HttpError::Io { url: url.to_owned(), source };
    let address = with_port
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| HttpError::Url { url: url.to_owned() })?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;
    stream.flush().map_err(io)?;

    let malformed = |what| HttpError::Malformed { url: url.to_owned(), what };
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(io)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed("status line"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            return Err(malformed("headers end early"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else { return Err(malformed("header")) };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = Some(value.parse().map_err(|_| malformed("content-length"))?);
        } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).map_err(io)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| malformed("chunk size"))?;
            if size == 0 {
                break;
            }
            if body.len() + size > max_body {
                return Err(malformed("body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).map_err(io)?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).map_err(io)?;
        }
    } else if let Some(length) = length {
        if length > max_body {
            return Err(malformed("body too large"));
        }
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(io)?;
    } else {
        reader.take(max_body as u64 + 1).read_to_end(&mut body).map_err(io)?;
        if body.len() > max_body {
            return Err(malformed("body too large"));
        }
    }
    Ok(Response { status, body })
}

/// Encodes `user:password` for HTTP basic authentication.
pub fn basic_auth(user: &str, password: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let bytes = input.as_bytes();
    let mut out = String::from("Basic ");
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_matches_rfc_7617_example() {
        assert_eq!(basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(basic_auth("u", "p"), "Basic dTpw");
    }

    #[test]
    fn bad_urls_are_refused() {
        let timeout = Duration::from_millis(200);
        assert!(matches!(post("https://x", &[], b"", timeout), Err(HttpError::Url { .. })));
        assert!(matches!(post("http://", &[], b"", timeout), Err(HttpError::Url { .. })));
    }
}
