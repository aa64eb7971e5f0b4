//! Requests to a test server and what they answer: [`Req`], [`Resp`] and the Server-Sent Events
//! stream [`EventStream`].

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::Server;

/// A request under construction.
pub struct Req {
    pub(super) inner: reqwest::RequestBuilder,
    pub(super) method: Method,
    pub(super) path: String,
}

impl Req {
    pub fn admin(self, server: &Server) -> Req {
        self.header("X-Admin-Token", &server.admin_token)
    }
    pub fn bearer(self, token: &str) -> Req {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.inner = self.inner.header(name, value);
        self
    }
    pub fn idempotency_key(self, key: &str) -> Req {
        self.header("Idempotency-Key", key)
    }
    pub fn json(mut self, body: &Value) -> Req {
        self.inner = self.inner.json(body);
        self
    }
    /// A raw body with a content type.
    pub fn body(mut self, body: impl Into<Vec<u8>>, content_type: &str) -> Req {
        self.inner = self
            .inner
            .header("Content-Type", content_type)
            .body(body.into());
        self
    }
    pub fn timeout(mut self, d: Duration) -> Req {
        self.inner = self.inner.timeout(d);
        self
    }
    pub async fn send(self) -> Resp {
        let started = Instant::now();
        let resp = self
            .inner
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {}: transport error: {e}", self.method, self.path));
        Resp::read(self.method, self.path, resp, started).await
    }
}

/// A received answer.
#[derive(Clone, Debug)]
pub struct Resp {
    pub method: Method,
    pub path: String,
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    pub elapsed: Duration,
    pub headers: reqwest::header::HeaderMap,
}

/// The `Content-Type` of an answer ("" when it has none).
pub fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

impl Resp {
    /// Reads the answer `resp` to `method path`, sent at `started`.
    pub async fn read(
        method: Method,
        path: String,
        resp: reqwest::Response,
        started: Instant,
    ) -> Resp {
        let status = resp.status().as_u16();
        let content_type = content_type(&resp);
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            method,
            path,
            status,
            content_type,
            text,
            json,
            elapsed: started.elapsed(),
            headers,
        }
    }

    /// The value of the header `name`, when the answer has it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn describe(&self) -> String {
        let mut body = self.text.clone();
        if body.len() > 600 {
            body.truncate(600);
            body.push('…');
        }
        format!(
            "{} {} → {} ({}) {}",
            self.method, self.path, self.status, self.content_type, body
        )
    }

    /// Asserts the status and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected answer: {}",
            self.describe()
        );
        if status != 204 {
            assert!(
                self.content_type.starts_with("application/json"),
                "success answers are application/json: {}",
                self.describe()
            );
        }
        self.json.clone()
    }

    /// Asserts a 200 or 201 and returns the JSON body.
    pub fn expect_ok(&self) -> Value {
        assert!(
            self.status == 200 || self.status == 201,
            "unexpected answer: {}",
            self.describe()
        );
        self.json.clone()
    }

    /// Asserts an RFC 9457 problem with this status; returns its `code`.
    pub fn expect_problem(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "unexpected answer: {}",
            self.describe()
        );
        self.assert_problem_shape()
    }

    /// Asserts an RFC 9457 problem with one of these statuses; returns its `code`.
    pub fn expect_problem_in(&self, statuses: &[u16]) -> String {
        assert!(
            statuses.contains(&self.status),
            "expected one of {statuses:?}: {}",
            self.describe()
        );
        self.assert_problem_shape()
    }

    /// Checks the problem+json shape: content type, `type`, `title`, `status` (equal to the HTTP
    /// status), `detail`, and a snake_case `code`.
    pub fn assert_problem_shape(&self) -> String {
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "error content-type must be application/problem+json: {}",
            self.describe()
        );
        let p = &self.json;
        assert!(
            p.is_object(),
            "problem body is not a JSON object: {}",
            self.describe()
        );
        for field in ["type", "title", "detail", "code"] {
            assert!(
                p[field].is_string(),
                "problem field {field:?} missing or not a string: {}",
                self.describe()
            );
        }
        assert_eq!(
            p["status"].as_u64(),
            Some(self.status as u64),
            "problem `status` must equal the HTTP status: {}",
            self.describe()
        );
        let code = p["code"].as_str().unwrap_or_default().to_string();
        assert!(
            is_snake_case(&code),
            "problem code {code:?} is not snake_case: {}",
            self.describe()
        );
        code
    }
}

pub fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An open Server-Sent Events stream.
pub struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    /// Reads the events of an answer to any event-stream request.
    pub fn new(resp: reqwest::Response) -> EventStream {
        EventStream {
            resp,
            buf: String::new(),
        }
    }

    /// The next event's `data` parsed as JSON, or `None` when `deadline` passes first.
    pub async fn next(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            // One event ends at a blank line.
            let normalized = self.buf.replace("\r\n", "\n");
            if let Some(end) = normalized.find("\n\n") {
                let block = normalized[..end].to_string();
                self.buf = normalized[end + 2..].to_string();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect();
                if data.is_empty() {
                    continue; // a comment or keep-alive
                }
                let text = data.join("\n");
                return Some(serde_json::from_str(&text).unwrap_or(Value::String(text)));
            }
            self.buf = normalized;
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return None,
                Err(_) => return None,
            }
        }
    }

    /// Waits for an event whose data satisfies `pred`; returns it with its arrival time.
    pub async fn wait_for(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Option<(Value, Instant)> {
        while let Some(ev) = self.next(deadline).await {
            if pred(&ev) {
                return Some((ev, Instant::now()));
            }
        }
        None
    }

    /// Drops every event already received or arriving within `quiet`.
    pub async fn drain(&mut self, quiet: Duration) {
        while self.next(Instant::now() + quiet).await.is_some() {}
    }
}
