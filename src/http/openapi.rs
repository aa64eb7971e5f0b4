//! The OpenAPI 3.1 document, derived from the handlers' annotations (never written twice).

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, admin, events, import, leaderboard, leases, meta, tasks, workers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open Work Protocol (OWP) v1",
        description = "A capacity-aware scheduler for pull requests: workers claim leased tasks, \
                       maintainers keep a review budget. See docs/owp-spec.md.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "admin", description = "Repository policies, task import, overrides, state"),
        (name = "workers", description = "Registration, heartbeats and GitHub links"),
        (name = "leases", description = "Claiming work and holding leases"),
        (name = "tasks", description = "Task reads and status updates"),
        (name = "events", description = "The audit log as Server-Sent Events"),
        (name = "health", description = "Liveness and discovery"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-Token"))),
        );
        components.add_security_scheme(
            "worker_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route of this router with its documentation, and the documentation of `more`: routes
/// other routers serve under the same API (`POST /v1/workers/link-code` belongs to the GitHub
/// App's router, which serves it only while an App is configured).
pub fn api_router(more: Vec<utoipa::openapi::OpenApi>) -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    for part in more {
        doc.merge(part);
    }
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(admin::upsert_repo))
        .routes(routes!(import::import_tasks))
        .routes(routes!(admin::import_beads))
        .routes(routes!(admin::state))
        .routes(routes!(admin::force_status))
        .routes(routes!(admin::update_worker))
        .routes(routes!(admin::archive_worker))
        .routes(routes!(admin::archive_repo))
        .routes(routes!(workers::register))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::me, workers::update_me))
        .routes(routes!(leases::claim))
        .routes(routes!(leases::ack))
        .routes(routes!(leases::nack))
        .routes(routes!(leases::renew))
        .routes(routes!(tasks::get_task))
        .routes(routes!(tasks::update_status))
        .routes(routes!(events::stream))
        .routes(routes!(leaderboard::leaderboard))
        .routes(routes!(meta::meta))
        .routes(routes!(super::healthz))
}

/// The document as served at `/v1/openapi.json` by a router given `more` (see [`api_router`]).
pub fn document(more: Vec<utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut doc = api_router(more).into_openapi();
    declare_problems(&mut doc);
    doc
}

/// Completes every operation with the errors the server's shared layers answer, all as
/// `application/problem+json` with the `Problem` schema, so the document says what the server
/// does: `429` everywhere (per-address rate limits, with `Retry-After`); `401` where credentials
/// are needed; `400`, `413`, `415` and `422` where a body is read; `409` and `422` for POSTs
/// (the `Idempotency-Key` layer); `400` for a query string that does not parse; `404` for an id
/// in the path. Error responses a handler declared with `application/json` are moved to
/// `application/problem+json`, which is what [`super::error::ApiError`] sends.
pub fn declare_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;

    for item in doc.paths.paths.values_mut() {
        let ops = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.delete, false),
            (&mut item.patch, true),
        ];
        for (op, is_write) in ops {
            let Some(op) = op.as_mut() else { continue };
            let responses = &mut op.responses.responses;
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    as_problem(response);
                }
            }
            let params = op.parameters.as_deref().unwrap_or_default();
            let in_path = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let in_query = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description).into());
            };
            add("429", "rate_limited: too many requests from this address");
            if secured {
                add("401", "unauthorized: missing or wrong credentials");
            }
            if in_path {
                add("404", "not_found: no such object");
            }
            if in_query {
                add("400", "invalid_request: the query string does not parse");
            }
            if op.request_body.is_some() {
                add("400", "malformed_body: the body is not JSON or YAML");
                add("413", "payload_too_large: the body is larger than 1 MiB");
                add("415", "unsupported_media_type: not JSON or YAML");
                add(
                    "422",
                    "validation_failed: a field is missing, of the wrong type or out of range",
                );
            }
            if is_write {
                add(
                    "409",
                    "request_in_flight: the same Idempotency-Key is being answered",
                );
                add("422", "invalid_idempotency_key or idempotency_key_reused");
            }
            if let Some(utoipa::openapi::RefOr::T(r)) = responses.get_mut("429") {
                r.headers
                    .entry("Retry-After".to_string())
                    .or_insert_with(retry_after);
            }
        }
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn retry_after() -> utoipa::openapi::header::Header {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut h =
        utoipa::openapi::header::Header::new(ObjectBuilder::new().schema_type(Type::Integer));
    h.description = Some("seconds to wait before retrying".to_string());
    h
}

/// Moves a declared error body from `application/json` to `application/problem+json`.
fn as_problem(response: &mut utoipa::openapi::RefOr<utoipa::openapi::Response>) {
    let utoipa::openapi::RefOr::T(r) = response else {
        return;
    };
    if let Some(content) = r.content.shift_remove("application/json") {
        r.content
            .insert("application/problem+json".to_string(), content);
    }
}

#[cfg(test)]
mod tests {
    /// The document the service serves: the server hands this router the GitHub App's part.
    fn document() -> utoipa::openapi::OpenApi {
        super::document(vec![crate::github::link::openapi()])
    }

    #[test]
    fn document_is_openapi_3_1_and_lists_every_route() {
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/v1/admin/repos", "post"),
            ("/v1/admin/tasks", "post"),
            ("/v1/admin/state", "get"),
            ("/v1/admin/tasks/{task_id}/status", "post"),
            ("/v1/admin/workers/{worker_id}", "post"),
            ("/v1/workers/register", "post"),
            ("/v1/workers/heartbeat", "post"),
            ("/v1/workers/me", "get"),
            ("/v1/workers/me", "post"),
            ("/v1/workers/link-code", "post"),
            ("/v1/work", "post"),
            ("/v1/leases/{lease_id}/ack", "post"),
            ("/v1/leases/{lease_id}/nack", "post"),
            ("/v1/leases/{lease_id}/renew", "post"),
            ("/v1/tasks/{task_id}", "get"),
            ("/v1/tasks/{task_id}/status", "post"),
            ("/v1/events", "get"),
            ("/v1/leaderboard", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
        assert!(doc["components"]["schemas"]["Task"].is_object());
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["schemas"]["LinkCode"].is_object());
        // The repo contract is described, and a lease's task and a repo policy point at it.
        assert!(doc["components"]["schemas"]["RepoContract"].is_object());
        let contract = &doc["components"]["schemas"]["RepoContract"]["properties"];
        for field in [
            "setup",
            "test",
            "lint",
            "branch",
            "pr_template",
            "instructions",
        ] {
            assert!(contract[field].is_object(), "RepoContract.{field}");
        }
        let task = &doc["components"]["schemas"]["Task"]["allOf"][1]["properties"];
        assert!(
            task["contract"]
                .to_string()
                .contains("#/components/schemas/RepoContract"),
            "{task}"
        );
        assert!(task["clone_url"].is_object(), "{task}");
        assert!(doc["components"]["schemas"]["RepoBody"]["properties"]["clone_url"].is_object());
        let link = &paths["/v1/workers/link-code"]["post"];
        assert_eq!(link["security"][0]["worker_token"], serde_json::json!([]));
        assert!(link["responses"]["201"].is_object());
    }

    #[test]
    fn every_error_is_problem_json_and_shared_layers_are_declared() {
        let doc = serde_json::to_value(document()).unwrap();
        let problem_ref = "#/components/schemas/Problem";
        let mut ops = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                ops += 1;
                let at = format!("{method} {path}");
                assert!(responses.contains_key("429"), "{at} lacks 429");
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{at}: 429 without Retry-After"
                );
                if op
                    .get("security")
                    .is_some_and(|s| !s.as_array().unwrap().is_empty())
                {
                    assert!(responses.contains_key("401"), "{at} lacks 401");
                }
                if op.get("requestBody").is_some() {
                    for code in ["400", "413", "422"] {
                        assert!(responses.contains_key(code), "{at} lacks {code}");
                    }
                }
                for (code, r) in responses {
                    if code.starts_with('4') {
                        let content = r["content"].as_object().unwrap();
                        assert_eq!(
                            content.keys().collect::<Vec<_>>(),
                            ["application/problem+json"],
                            "{at} {code}"
                        );
                        assert_eq!(
                            content["application/problem+json"]["schema"]["$ref"], problem_ref,
                            "{at} {code}"
                        );
                    }
                }
            }
        }
        assert!(ops >= 16, "{ops}");
    }

    /// The `/v1` routes registered with a plain `.route(PATH, …)` in `source` (outside
    /// [`api_router`], so not documented by construction): `(method, path)`. `PATH` is a string
    /// literal or a `&str` constant from `consts`.
    fn plain_v1_routes(
        source: &str,
        consts: &std::collections::HashMap<String, String>,
    ) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (at, _) in source.match_indices(".route(") {
            let args_start = at + ".route(".len();
            let mut depth = 1;
            let mut end = args_start;
            for (i, c) in source[args_start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = args_start + i;
                    break;
                }
            }
            let args = &source[args_start..end];
            let (first, handlers) = args.split_once(',').unwrap_or((args, ""));
            let first = first.trim();
            let path = match first.strip_prefix('"') {
                Some(rest) => rest.trim_end_matches('"').to_string(),
                None => {
                    let name = first.rsplit("::").next().unwrap_or(first);
                    consts.get(name).cloned().unwrap_or_else(|| {
                        panic!(
                            "cannot tell the path of `.route({first}, …)`; use a literal or a const"
                        )
                    })
                }
            };
            if !path.starts_with("/v1") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                for (m, _) in handlers.match_indices(&format!("{method}(")) {
                    let before = handlers[..m].trim_end();
                    let word_start = before.is_empty()
                        || before.ends_with("routing::")
                        || before.ends_with(").")
                        || before.ends_with(',');
                    if word_start {
                        found.push((method.to_string(), path.clone()));
                    }
                }
            }
        }
        found
    }

    /// Every `.rs` file below `dir`, without its tests and comments.
    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // What the service runs: no test module, no comments.
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code = code
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                out.push((path.display().to_string(), code));
            }
        }
    }

    #[test]
    fn the_route_scan_finds_plain_routes() {
        let consts = std::collections::HashMap::from([("P".to_string(), "/v1/p".to_string())]);
        let source = r#"Router::new()
            .route("/v1/workers/link-code", axum::routing::post(create))
            .route(m::P, get(a).post(b))
            .route("/elsewhere", get(c))"#;
        assert_eq!(
            plain_v1_routes(source, &consts),
            [
                ("post", "/v1/workers/link-code"),
                ("get", "/v1/p"),
                ("post", "/v1/p")
            ]
            .map(|(m, p)| (m.to_string(), p.to_string()))
        );
    }

    /// Routes of other routers merged into the service (the GitHub App's, the dashboard's, …)
    /// are written with `.route(…)`; any of them under `/v1` must be in the OpenAPI document too.
    #[test]
    fn every_v1_route_the_service_serves_is_documented() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut consts = std::collections::HashMap::new();
        for (_, text) in &files {
            for line in text.lines() {
                let line = line.trim_start().trim_start_matches("pub ");
                if let Some(rest) = line.strip_prefix("const ")
                    && let Some((name, value)) = rest.split_once(": &str = \"")
                {
                    consts.insert(name.to_string(), value.trim_end_matches("\";").to_string());
                }
            }
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        for (file, text) in &files {
            for (method, path) in plain_v1_routes(text, &consts) {
                seen += 1;
                // The document itself.
                if path == "/v1/openapi.json" {
                    continue;
                }
                if paths.get(&path).and_then(|p| p.get(&method)).is_none() {
                    missing.push(format!("{} {path} ({file})", method.to_uppercase()));
                }
            }
        }
        assert!(seen >= 1, "the scan found no route at all");
        assert!(
            missing.is_empty(),
            "routes served but missing from the OpenAPI document: {missing:?}"
        );
    }
}
