//! The OpenAPI document as the server serves it: the OWP API's routes (`http::openapi`) with the
//! GitHub App's part, checked whole. It lives with the server, which puts the two together.

#![cfg(test)]

use crate::source_code::workspace_code;

/// The document the service serves: the server hands this router the GitHub App's part.
fn document() -> utoipa::openapi::OpenApi {
    crate::http::openapi::document(vec![
        crate::http::link_code::openapi(),
        crate::http::signin::openapi(),
        crate::http::worker_link::openapi(),
    ])
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
        ("/v1/me", "get"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/device", "post"),
        ("/v1/auth/device/token", "post"),
        ("/v1/workers/link/device", "post"),
        ("/v1/workers/link/device/token", "post"),
        ("/v1/admin/signin/revoke", "post"),
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
    let task = &doc["components"]["schemas"]["Task"]["properties"];
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

/// Every object schema says its properties (a second implementation generates its types from
/// them), those with `x_*` fields as one open object; routes the protocol does not name are
/// marked `x-owp-extension: true`, and only those.
#[test]
fn every_schema_has_its_properties_and_extensions_are_marked() {
    let doc = serde_json::to_value(document()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in ["Task", "Worker", "RepoPolicy"] {
        let s = &schemas[name];
        assert_eq!(s["type"], "object", "{name}: {s}");
        assert_eq!(s["additionalProperties"], true, "{name}: x_* fields");
        let props = s["properties"].as_object().unwrap();
        assert!(props.len() >= 10, "{name}: {props:?}");
        assert!(
            s["required"].as_array().is_some_and(|r| !r.is_empty()),
            "{name}"
        );
    }
    assert!(schemas["Task"]["properties"]["awaits_maintainer"].is_object());
    assert!(schemas["Worker"]["properties"]["trust_level"].is_object());
    assert!(schemas["RepoPolicy"]["properties"]["max_open_prs"].is_object());
    for (name, s) in schemas {
        if s["type"] == "object" && s.get("additionalProperties").is_none() {
            assert!(s["properties"].is_object(), "{name} has no properties: {s}");
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let marked = op.get("x-owp-extension") == Some(&serde_json::json!(true));
            assert_eq!(
                marked,
                crate::http::openapi::EXTENSION_ROUTES.contains(&path.as_str()),
                "{method} {path}"
            );
        }
    }
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
            // The webhook alone is not limited by address (GitHub delivers from shared ones).
            if path == crate::http::rate_limits::WEBHOOK_PATH {
                assert!(!responses.contains_key("429"), "{at} declares 429");
            } else {
                assert!(responses.contains_key("429"), "{at} lacks 429");
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{at}: 429 without Retry-After"
                );
            }
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
                    panic!("cannot tell the path of `.route({first}, …)`; use a literal or a const")
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

#[test]
fn the_route_scan_reads_every_crate_of_the_workspace() {
    let files = workspace_code();
    let sep = std::path::MAIN_SEPARATOR;
    let under = |dir: String| files.iter().filter(|(f, _)| f.contains(&dir)).count();
    assert!(
        under(format!("{sep}src{sep}server{sep}")) > 0,
        "no file of src/"
    );
    let crates = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crates")).unwrap();
    for krate in crates {
        let name = krate.unwrap().file_name().to_string_lossy().into_owned();
        let dir = format!("{sep}crates{sep}{name}{sep}src{sep}");
        assert!(under(dir) > 0, "no file of crates/{name}/src");
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
    let files = workspace_code();
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

#[test]
fn the_routes_needing_a_credential_are_read_from_the_operations_as_from_the_whole_document() {
    use crate::http::rate_limits::CredentialRoutes;
    let doc = document();
    let read = CredentialRoutes::of(&doc);
    let whole = CredentialRoutes::of_json(&serde_json::to_value(&doc).unwrap());
    assert!(
        read.len() > 10,
        "the document names routes that need a credential"
    );
    assert!(read.same_routes(&whole));
}
