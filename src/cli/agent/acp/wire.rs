//! JSON-RPC 2.0 over the agent's stdio, as the Agent Client Protocol frames it: one message per
//! line, UTF-8, no embedded newlines. Every message in and out is written to the lease's log
//! (clipped), which is the transcript of the session.

use std::path::Path;

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// The longest line read from the agent (a file it writes travels in one message).
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// How much of one message the log keeps.
const LOGGED_CHARS: usize = 2_000;

/// A message from the agent.
#[derive(Debug)]
pub enum Incoming {
    /// The answer to one of our requests.
    Response {
        id: Value,
        result: Result<Value, String>,
    },
    /// A request we must answer.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification.
    Notification { method: String, params: Value },
}

/// What a line says (a line that is no JSON-RPC message is an error).
pub fn parse(line: &str) -> Result<Incoming, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let method = v.get("method").and_then(Value::as_str).map(str::to_string);
    let params = v.get("params").cloned().unwrap_or(Value::Null);
    match (v.get("id").cloned(), method) {
        (Some(id), Some(method)) => Ok(Incoming::Request { id, method, params }),
        (None, Some(method)) => Ok(Incoming::Notification { method, params }),
        (Some(id), None) => {
            let result = match (v.get("result"), v.get("error")) {
                (_, Some(e)) => Err(e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("an error without a message")
                    .chars()
                    .take(500)
                    .collect()),
                (Some(r), None) => Ok(r.clone()),
                (None, None) => Ok(Value::Null),
            };
            Ok(Incoming::Response { id, result })
        }
        (None, None) => Err("neither a request, a response nor a notification".into()),
    }
}

/// Reads one line (without its newline); `None` at the end of the stream. A line past
/// [`MAX_LINE`] is an error.
pub async fn read_line<R: AsyncBufRead + Unpin>(from: &mut R) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        let buf = from.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned()));
        }
        let (taken, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..taken]);
        from.consume(taken);
        if line.len() > MAX_LINE {
            return Err(std::io::Error::other(
                "the agent sent a message longer than 16 MiB",
            ));
        }
        if done {
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
    }
}

/// The writing half: our messages to the agent, each logged.
pub struct Sender<W> {
    to: W,
    next_id: u64,
    log: Transcript,
}

impl<W: AsyncWrite + Unpin> Sender<W> {
    pub fn new(to: W, log: Transcript) -> Self {
        Sender {
            to,
            next_id: 0,
            log,
        }
    }

    async fn send(&mut self, message: Value) -> std::io::Result<()> {
        let mut line = serde_json::to_string(&message).map_err(std::io::Error::other)?;
        self.log.note("client → agent", &line).await;
        line.push('\n');
        self.to.write_all(line.as_bytes()).await?;
        self.to.flush().await
    }

    /// Sends a request; its id.
    pub async fn request(&mut self, method: &str, params: Value) -> std::io::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        Ok(id)
    }

    pub async fn notify(&mut self, method: &str, params: Value) -> std::io::Result<()> {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    pub async fn answer(
        &mut self,
        id: Value,
        result: Result<Value, (i64, String)>,
    ) -> std::io::Result<()> {
        let message = match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            }
        };
        self.send(message).await
    }

    pub fn transcript(&self) -> &Transcript {
        &self.log
    }
}

/// The session's transcript, appended to the lease's log.
#[derive(Clone)]
pub struct Transcript {
    file: std::sync::Arc<tokio::sync::Mutex<tokio::fs::File>>,
}

impl Transcript {
    pub async fn open(log: &Path) -> anyhow::Result<Transcript> {
        let file = crate::cli::agent::process::open_log(log).await?;
        Ok(Transcript {
            file: std::sync::Arc::new(tokio::sync::Mutex::new(file)),
        })
    }

    /// One line of the log: `acp DIRECTION MESSAGE` (clipped).
    pub async fn note(&self, direction: &str, text: &str) {
        let mut line: String = text.chars().take(LOGGED_CHARS).collect();
        if line.len() < text.len() {
            line.push_str(" …");
        }
        let mut file = self.file.lock().await;
        let _ = file
            .write_all(format!("acp {direction} {line}\n").as_bytes())
            .await;
        let _ = file.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_told_apart() {
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":3,"method":"fs/read_text_file","params":{}}"#),
            Ok(Incoming::Request { .. })
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","method":"session/update","params":{}}"#),
            Ok(Incoming::Notification { .. })
        ));
        match parse(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"boom"}}"#) {
            Ok(Incoming::Response { result: Err(m), .. }) => assert_eq!(m, "boom"),
            other => panic!("{other:?}"),
        }
        assert!(parse("not json").is_err());
        assert!(parse("{}").is_err());
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let mut input: &[u8] = b"{\"a\":1}\r\n{\"b\":2}";
        assert_eq!(read_line(&mut input).await.unwrap().unwrap(), "{\"a\":1}");
        assert_eq!(read_line(&mut input).await.unwrap().unwrap(), "{\"b\":2}");
        assert!(read_line(&mut input).await.unwrap().is_none());
        let long = vec![b'x'; MAX_LINE + 2];
        let mut input: &[u8] = &long;
        assert!(read_line(&mut input).await.is_err());
    }
}
