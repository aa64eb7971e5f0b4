//! What goes wrong talking to the OWP server, as one line a person can act on: the server's own
//! problem+json (`title: detail (code)`), a refused token, or a server that cannot be reached.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::server_url::BadServerUrl;
use super::super::transport::size_text;

/// An RFC 9457 problem document as the OWP server sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub problem_type: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `capacity_exceeded`.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Problem {
    /// Reads a problem document from an error response body; `None` when the body is not one.
    pub fn parse(body: &str) -> Option<Problem> {
        let problem: Problem = serde_json::from_str(body).ok()?;
        if problem.title.is_none() && problem.detail.is_none() && problem.code.is_none() {
            return None;
        }
        Some(problem)
    }

    /// `title: detail (code)`, leaving out the parts the server did not send.
    pub fn summary(&self) -> String {
        let title = self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let detail = self
            .detail
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let mut out = match (title, detail) {
            (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
            (Some(t), _) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "request failed".to_string(),
        };
        if let Some(code) = self.code.as_deref().filter(|c| !c.is_empty()) {
            out.push_str(&format!(" ({code})"));
        }
        out
    }
}

/// Which credential a request carried; decides how a 401 is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Admin,
    Worker,
}

/// Everything that can go wrong talking to the OWP server, each with a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    BadUrl(#[from] BadServerUrl),
    #[error("cannot reach the OWP server at {base_url} (is `owp serve` running?)")]
    Unreachable { base_url: String },
    #[error("the OWP server at {base_url} did not answer in time")]
    Timeout { base_url: String },
    #[error("request to the OWP server at {base_url} failed: {message}")]
    Transport { base_url: String, message: String },
    #[error(
        "no admin token: pass --admin-token or set OWP_ADMIN_TOKEN (`owp serve` saves it to ./env.local on its first run), or sign in as a maintainer with `owp login URL`"
    )]
    MissingAdminToken,
    #[error(
        "no worker registered here: run `owp worker register --name NAME --skills a,b --capacity 5` first"
    )]
    MissingWorkerToken,
    #[error(
        "the server refused the admin token (401): use the OWP_ADMIN_TOKEN that `owp serve` prints or saves to ./env.local"
    )]
    AdminTokenRefused { problem: Option<Box<Problem>> },
    #[error("the server refused the worker token (401): register again with `owp worker register`")]
    WorkerTokenRefused { problem: Option<Box<Problem>> },
    #[error("{}", .problem.summary())]
    Problem { status: u16, problem: Box<Problem> },
    #[error(
        "the server answered {status} to {method} {path} with no OWP answer: is it an OWP server? (one answers GET /v1/meta; check the address)"
    )]
    NotOwp {
        status: u16,
        method: String,
        path: String,
    },
    #[error(
        "could not talk https to {base_url} ({cause}); if that server serves plain HTTP, as `owp serve` does without a proxy in front, use {plain}"
    )]
    Tls {
        base_url: String,
        cause: String,
        plain: String,
    },
    #[error("the server answered {status} to {method} {path}: {body}")]
    Unexpected {
        status: u16,
        method: String,
        path: String,
        body: String,
    },
    #[error(
        "the server at {base_url} sent more than {} to {method} {path}; stopped reading (an OWP server's answers are smaller)",
        size_text(*limit)
    )]
    TooLarge {
        base_url: String,
        method: String,
        path: String,
        limit: usize,
    },
    #[error(
        "the server at {base_url} redirected {method} {path} to {to}, another address: not followed, so no token goes there (if that is the server, use it as the server URL)"
    )]
    Redirected {
        base_url: String,
        method: String,
        path: String,
        to: String,
    },
    #[error("the server sent an answer to {method} {path} that this client cannot read: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
}

impl ClientError {
    /// The HTTP status of an error answer, if the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::AdminTokenRefused { .. } | ClientError::WorkerTokenRefused { .. } => {
                Some(401)
            }
            ClientError::Problem { status, .. }
            | ClientError::Unexpected { status, .. }
            | ClientError::NotOwp { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem `code` the server sent, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Problem { problem, .. } => problem.code.as_deref(),
            ClientError::AdminTokenRefused { problem }
            | ClientError::WorkerTokenRefused { problem } => {
                problem.as_ref().and_then(|p| p.code.as_deref())
            }
            _ => None,
        }
    }

    /// The server could not be reached or did not answer: trying again later may help.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Timeout { .. }
                | ClientError::Transport { .. }
        )
    }

    /// A credential is missing or was refused: retrying will not help.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ClientError::MissingAdminToken
                | ClientError::MissingWorkerToken
                | ClientError::AdminTokenRefused { .. }
                | ClientError::WorkerTokenRefused { .. }
        )
    }
}

/// Turns an error answer into a [`ClientError`].
pub fn error_from_response(
    status: u16,
    auth: Auth,
    method: &Method,
    path: &str,
    body: &str,
) -> ClientError {
    let problem = Problem::parse(body).map(Box::new);
    if status == 401 {
        match auth {
            Auth::Admin => return ClientError::AdminTokenRefused { problem },
            Auth::Worker => return ClientError::WorkerTokenRefused { problem },
            Auth::None => {}
        }
    }
    match problem {
        Some(problem) => ClientError::Problem { status, problem },
        // An OWP server answers every unknown route with problem+json: a bare 404 (a web page,
        // another service) means the address is not one.
        None if status == 404 || status == 405 => ClientError::NotOwp {
            status,
            method: method.to_string(),
            path: path.to_string(),
        },
        None => ClientError::Unexpected {
            status,
            method: method.to_string(),
            path: path.to_string(),
            body: one_line(body, 200),
        },
    }
}

/// Shortens a text to one line of at most `max` characters.
pub(super) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max).collect();
    cut.push('…');
    cut
}
