//! A keep-alive HTTP/1.1 connection that sends requests written out beforehand, as wrk does.
//!
//! The idle pool's requests cost the server a few microseconds each, so what the load generator
//! spends on each one decides how much of the machine's two cores the server gets, and with it
//! the ratio of two routes: a generator that costs as much as the server per request halves every
//! difference between them. wrk writes a request it formatted at start and reads the answer's
//! status and length; this does the same, so that the ratios `owp bench --idle` reports are the
//! ones an outside load (`scripts/idle-wrk.sh`) sees.

use anyhow::{Context, bail};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The requests of one route, one per worker (or one for all): the whole bytes of each.
pub(super) struct Requests(Vec<Bytes>);

impl Requests {
    /// `method path` with `Host: host`, and for each token in `bearers` one request carrying it
    /// (one request without a credential when `bearers` is empty).
    pub(super) fn new(method: &str, path: &str, host: &str, bearers: &[String]) -> Requests {
        let head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        if bearers.is_empty() {
            return Requests(vec![Bytes::from(format!("{head}\r\n"))]);
        }
        Requests(
            bearers
                .iter()
                .map(|t| Bytes::from(format!("{head}Authorization: Bearer {t}\r\n\r\n")))
                .collect(),
        )
    }

    /// The `n`th request, round the list.
    pub(super) fn get(&self, n: usize) -> &[u8] {
        &self.0[n % self.0.len()]
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

/// One connection, one request at a time.
pub(super) struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    /// Connects to `host` (`127.0.0.1:port`).
    pub(super) async fn open(host: &str) -> anyhow::Result<RawConn> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("cannot connect to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and reads its whole answer; returns its status.
    pub(super) async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if let Some((status, head_len, body_len)) = parse_head(&self.buf)? {
                let total = head_len + body_len;
                while self.buf.len() < total {
                    self.read_more().await?;
                }
                if self.buf.len() > total {
                    bail!("the server answered more than it was asked");
                }
                return Ok(status);
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// The status, the length of the head and the length of the body of an answer whose head is
/// whole in `buf` (`None` until it is). An answer without `Content-Length` (chunked) is refused:
/// the server sends none.
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<(u16, usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).context("an answer head that is not text")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .context("an answer without a status line")?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("a chunked answer");
        }
    }
    // 204 and 304 carry no body.
    let length = match status {
        204 | 304 => 0,
        _ => length.context("an answer without Content-Length")?,
    };
    Ok(Some((status, end + 4, length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_when_whole() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap(), None);
        let a = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 12\r\n\r\n{";
        assert_eq!(parse_head(a).unwrap(), Some((200, a.len() - 1, 12)));
        let b = b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n";
        assert_eq!(parse_head(b).unwrap(), Some((204, b.len(), 0)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"nonsense\r\n\r\n").is_err());
    }

    #[test]
    fn requests_go_round_the_tokens() {
        let tokens = vec!["a".to_string(), "b".to_string()];
        let r = Requests::new("POST", "/x", "h:1", &tokens);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.get(3),
            b"POST /x HTTP/1.1\r\nHost: h:1\r\nAuthorization: Bearer b\r\n\r\n"
        );
        let r = Requests::new("GET", "/healthz", "h:1", &[]);
        assert_eq!(r.get(7), b"GET /healthz HTTP/1.1\r\nHost: h:1\r\n\r\n");
    }
}
