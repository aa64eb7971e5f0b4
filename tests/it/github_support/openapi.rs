//! GitHub's published REST description, as strict as GitHub: every request the App sends to the
//! fake is matched to an operation of `tests/fixtures/github/openapi/api.github.com.app.json` (the
//! operations the App uses, extracted from `@octokit/openapi`), its query parameters and JSON body
//! are checked against the operation's schemas, and its `User-Agent` and `Accept` headers are
//! checked as GitHub checks them. What does not match is a violation: the fake records it, answers
//! as GitHub would (404, 422, 403), and the test fails when the fake is dropped. For the operations
//! whose answer schemas are vendored too (`responses`), the fake's own answers are checked the same
//! way ([`check_answer`]).

use std::sync::OnceLock;

use axum::http::{HeaderMap, header};
use serde_json::Value;

const DESCRIPTION: &str = include_str!("../../fixtures/github/openapi/api.github.com.app.json");

/// One operation of the description.
pub struct Operation {
    pub method: String,
    /// `/repos/{owner}/{repo}/issues/{issue_number}`.
    pub template: String,
    pub operation_id: String,
    segments: Vec<String>,
    /// Query parameters: name and schema.
    query: Vec<(String, jsonschema::Validator, bool)>,
    body: Option<(bool, jsonschema::Validator)>,
    /// Answer schemas by HTTP status, where vendored.
    responses: Vec<(u16, jsonschema::Validator)>,
}

/// Why a request is not one GitHub serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// No path template matches: GitHub answers 404.
    UnknownRoute(String),
    /// The path exists, not with this method: GitHub answers 404.
    WrongMethod(String),
    /// A query parameter the operation does not declare, or a value its schema refuses.
    BadQuery(String),
    /// A JSON body the operation's `requestBody` schema refuses: GitHub answers 422.
    BadBody(String),
    /// No `User-Agent`, or no GitHub media type in `Accept`: GitHub answers 403.
    BadHeaders(String),
}

impl Violation {
    pub fn describe(&self) -> &str {
        match self {
            Violation::UnknownRoute(s)
            | Violation::WrongMethod(s)
            | Violation::BadQuery(s)
            | Violation::BadBody(s)
            | Violation::BadHeaders(s) => s,
        }
    }
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .unwrap_or_else(|e| panic!("the vendored schema does not compile: {e}"))
}

/// The operations of the vendored description.
pub fn operations() -> &'static [Operation] {
    static OPERATIONS: OnceLock<Vec<Operation>> = OnceLock::new();
    OPERATIONS.get_or_init(|| {
        let description: Value = serde_json::from_str(DESCRIPTION).expect("vendored JSON");
        let mut out = Vec::new();
        for (template, methods) in description["paths"].as_object().expect("paths") {
            for (method, op) in methods.as_object().expect("methods") {
                let query = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap_or_default().to_string(),
                            validator(&p["schema"]),
                            p["required"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect();
                let body = op["requestBody"].as_object().map(|b| {
                    (
                        b.get("required").and_then(Value::as_bool).unwrap_or(false),
                        validator(&b["schema"]),
                    )
                });
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(status, schema)| Some((status.parse().ok()?, validator(schema))))
                    .collect();
                out.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    operation_id: op["operationId"].as_str().unwrap_or_default().to_string(),
                    segments: template
                        .trim_matches('/')
                        .split('/')
                        .map(str::to_string)
                        .collect(),
                    query,
                    body,
                    responses,
                });
            }
        }
        out
    })
}

impl Operation {
    /// Whether `path` (decoded, without query) fits the template. A trailing `{path}` takes
    /// the rest of the path, slashes included, as GitHub's contents route does.
    fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut i = 0;
        for (n, seg) in self.segments.iter().enumerate() {
            let last = n + 1 == self.segments.len();
            if seg == "{path}" && last {
                return parts.len() > i && parts[i..].iter().all(|p| !p.is_empty());
            }
            let Some(part) = parts.get(i) else {
                return false;
            };
            let fits = if seg.starts_with('{') {
                !part.is_empty()
            } else {
                seg == part
            };
            if !fits {
                return false;
            }
            i += 1;
        }
        i == parts.len()
    }
}

/// A query parameter's value as its schema sees it: a number where one is expected.
fn query_value(raw: &str) -> Value {
    raw.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// Checks one request; `Ok` with the operation it is, or the violation.
pub fn check(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'static Operation, Violation> {
    let request = format!("{method} {path}");
    let candidates: Vec<&Operation> = operations().iter().filter(|o| o.matches(path)).collect();
    if candidates.is_empty() {
        return Err(Violation::UnknownRoute(format!(
            "{request}: no such route in GitHub's REST description"
        )));
    }
    let Some(op) = candidates.iter().find(|o| o.method == method).copied() else {
        let allowed: Vec<&str> = candidates.iter().map(|o| o.method.as_str()).collect();
        return Err(Violation::WrongMethod(format!(
            "{request}: GitHub serves only {} on {}",
            allowed.join(", "),
            candidates[0].template
        )));
    };
    let user_agent: Vec<_> = headers.get_all(header::USER_AGENT).iter().collect();
    if user_agent.len() != 1 || user_agent[0].is_empty() {
        return Err(Violation::BadHeaders(format!(
            "{request}: GitHub refuses requests without exactly one User-Agent (got {user_agent:?})"
        )));
    }
    let accepts_github = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/vnd.github"));
    if !accepts_github {
        return Err(Violation::BadHeaders(format!(
            "{request}: no `Accept: application/vnd.github+json` (or another GitHub media type)"
        )));
    }
    for (name, value) in query {
        let Some((_, schema, _)) = op.query.iter().find(|(n, _, _)| n == name) else {
            return Err(Violation::BadQuery(format!(
                "{request}: `{name}` is not a query parameter of {} ({})",
                op.template, op.operation_id
            )));
        };
        if let Err(e) = schema.validate(&query_value(value)) {
            return Err(Violation::BadQuery(format!(
                "{request}: `{name}={value}` refused: {e}"
            )));
        }
    }
    if let Some((name, _, _)) = op
        .query
        .iter()
        .find(|(n, _, required)| *required && !query.iter().any(|(q, _)| q == n))
    {
        return Err(Violation::BadQuery(format!(
            "{request}: the required query parameter `{name}` is missing"
        )));
    }
    let json: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => Some(v),
            Err(e) => {
                return Err(Violation::BadBody(format!(
                    "{request}: the body is not JSON: {e}"
                )));
            }
        }
    };
    match (&op.body, json) {
        (Some((true, _)), None) => Err(Violation::BadBody(format!(
            "{request}: {} requires a JSON body",
            op.operation_id
        ))),
        (Some((_, schema)), Some(value)) => {
            let errors: Vec<String> = schema
                .iter_errors(&value)
                .map(|e| format!("{} at `{}`", e, e.instance_path()))
                .collect();
            if errors.is_empty() {
                Ok(op)
            } else {
                Err(Violation::BadBody(format!(
                    "{request}: the body does not match {}'s schema: {}",
                    op.operation_id,
                    errors.join("; ")
                )))
            }
        }
        // An operation without a body: an empty JSON object is what clients send for "nothing".
        (None, Some(value)) if value != Value::Object(Default::default()) => {
            Err(Violation::BadBody(format!(
                "{request}: {} takes no body, got {value}",
                op.operation_id
            )))
        }
        _ => Ok(op),
    }
}

/// Checks one of the fake's answers against the schema GitHub's description gives for it, where
/// one is vendored: `Err` with what does not match.
pub fn check_answer(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let Some(op) = operations()
        .iter()
        .find(|o| o.method == method && o.matches(path))
    else {
        return Ok(());
    };
    let Some((_, schema)) = op.responses.iter().find(|(s, _)| *s == status) else {
        return Ok(());
    };
    let errors: Vec<String> = schema
        .iter_errors(body)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{method} {path}: the fake's {status} answer does not match {}'s schema: {}",
            op.operation_id,
            errors.join("; ")
        ))
    }
}
