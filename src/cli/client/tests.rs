//! The client against a server's answers, good and bad.

use super::send::RETRY_ATTEMPTS;
use super::*;

#[test]
fn problem_summary_is_title_detail_code() {
    let body = r#"{"type":"https://owp.dev/problems/capacity_exceeded","title":"Capacity exceeded",
        "status":409,"detail":"worker w1 has 4 of 5 points in use","code":"capacity_exceeded"}"#;
    let p = Problem::parse(body).expect("a problem document");
    assert_eq!(p.status, Some(409));
    assert_eq!(
        p.summary(),
        "Capacity exceeded: worker w1 has 4 of 5 points in use (capacity_exceeded)"
    );
    let err = error_from_response(409, Auth::Worker, &Method::POST, "/v1/work", body);
    assert_eq!(
        err.to_string(),
        "Capacity exceeded: worker w1 has 4 of 5 points in use (capacity_exceeded)"
    );
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("capacity_exceeded"));
}

#[test]
fn problem_without_detail_or_code() {
    let p = Problem::parse(r#"{"title":"Not found","status":404}"#).unwrap();
    assert_eq!(p.summary(), "Not found");
    let p = Problem::parse(r#"{"title":"Gone","detail":"Gone","code":"gone"}"#).unwrap();
    assert_eq!(p.summary(), "Gone (gone)");
    // Not a problem document.
    assert!(Problem::parse(r#"{"tasks":[]}"#).is_none());
    assert!(Problem::parse("<html>oops</html>").is_none());
}

#[test]
fn unauthorized_names_the_credential() {
    let body =
        r#"{"title":"Unauthorized","status":401,"detail":"bad token","code":"unauthorized"}"#;
    let worker = error_from_response(401, Auth::Worker, &Method::POST, "/v1/work", body);
    assert!(
        worker
            .to_string()
            .starts_with("the server refused the worker token (401)")
    );
    assert!(worker.to_string().contains("owp worker register"));
    assert!(worker.is_auth());
    let admin = error_from_response(401, Auth::Admin, &Method::GET, "/v1/admin/state", body);
    assert!(
        admin
            .to_string()
            .starts_with("the server refused the admin token (401)")
    );
    assert_eq!(admin.code(), Some("unauthorized"));
    let anon = error_from_response(401, Auth::None, &Method::POST, "/v1/workers/register", body);
    assert_eq!(anon.to_string(), "Unauthorized: bad token (unauthorized)");
}

#[test]
fn non_problem_errors_are_one_line() {
    let err = error_from_response(
        502,
        Auth::None,
        &Method::GET,
        "/healthz",
        "<html>\n<body>Bad\n gateway</body>\n</html>",
    );
    let msg = err.to_string();
    assert!(!msg.contains('\n'));
    assert_eq!(
        msg,
        "the server answered 502 to GET /healthz: <html> <body>Bad gateway</body> </html>"
    );
    let long = "x".repeat(500);
    let msg = error_from_response(500, Auth::None, &Method::GET, "/", &long).to_string();
    assert!(msg.ends_with('…') && msg.len() < 300);
}

#[test]
fn base_urls_are_normalized() {
    assert_eq!(
        normalize_base_url("http://127.0.0.1:8787/"),
        "http://127.0.0.1:8787"
    );
    assert_eq!(
        normalize_base_url(" localhost:9000 "),
        "http://localhost:9000"
    );
    assert_eq!(
        normalize_base_url("https://owp.example.org"),
        "https://owp.example.org"
    );
}

#[test]
fn ids_are_encoded_in_paths() {
    assert_eq!(segment("t_01H9-x"), "t_01H9-x");
    assert_eq!(segment("a/b c"), "a%2Fb%20c");
    assert_eq!(query_value("owner/name"), "owner/name");
    assert_eq!(query_value("a&b"), "a%26b");
}

fn task_json(status: &str) -> Value {
    serde_json::json!({
        "task_id": "t1", "repo": "demo", "key": "DEMO-1", "title": "Fix", "description": "",
        "estimate_points": 2, "priority": "high", "required_skills": ["rust"], "area": "cli",
        "tier": 0, "status": status, "assigned_worker_id": "w1", "lease_id": "l1",
        "lease_expires_at": "2030-01-01T00:30:00Z", "artifact": null, "attempts": 0,
        "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
    })
}

#[test]
fn changed_reads_every_answer_shape() {
    let lease = serde_json::json!({"lease_id": "l1", "task": task_json("in_progress"),
        "expires_at": "2030-01-01T01:00:00Z", "accept_by": "2030-01-01T00:02:00Z"});
    let shapes = [
        (lease.clone(), "2030-01-01T01:00:00Z"),
        (
            serde_json::json!({ "lease": lease }),
            "2030-01-01T01:00:00Z",
        ),
        (task_json("in_progress"), "2030-01-01T00:30:00Z"),
        (
            serde_json::json!({ "task": task_json("in_progress") }),
            "2030-01-01T00:30:00Z",
        ),
    ];
    for (value, expires) in shapes {
        let changed = Changed(value);
        let task = changed.task().expect("a task");
        assert_eq!(task.task_id, "t1");
        assert_eq!(task.status.as_str(), "in_progress");
        assert_eq!(changed.expires_at().as_deref(), Some(expires));
    }
    assert!(Changed(serde_json::json!({"ok": true})).task().is_none());
}

#[test]
fn missing_tokens_fail_before_sending() {
    let client = OwpClient::new("http://127.0.0.1:9").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(client.claim(None)).unwrap_err();
    assert!(matches!(err, ClientError::MissingWorkerToken));
    let err = rt.block_on(client.admin_state(None)).unwrap_err();
    assert!(matches!(err, ClientError::MissingAdminToken));
}

#[test]
fn unreachable_server_is_one_clear_line() {
    // A port that was free a moment ago: the connection is refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = OwpClient::new(&base)
        .unwrap()
        .with_admin_token(Some("t".into()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(client.admin_state(None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot reach the OWP server at {base} (is `owp serve` running?)")
    );
    assert!(err.is_transport());
}

/// A server answering POST /v1/leases/l1/ack with `answers` in turn (then 200), recording the
/// `Idempotency-Key` of each request.
async fn answering(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::HeaderMap;
    let keys = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/v1/leases/l1/ack",
        axum::routing::post(move |headers: HeaderMap| {
            let (seen, answers) = (seen.clone(), answers.clone());
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                seen.lock().unwrap().push(key);
                let (status, body) = answers.lock().unwrap().next().unwrap_or((200, "{}"));
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, keys)
}

use std::sync::{Arc, Mutex};

#[tokio::test]
async fn a_5xx_or_a_request_still_running_is_sent_again_with_the_same_key() {
    let busy =
        r#"{"title":"Service Unavailable","status":503,"code":"database_busy","detail":"x"}"#;
    let running =
        r#"{"title":"Conflict","status":409,"code":"idempotency_in_progress","detail":"x"}"#;
    let (base, keys) = answering(vec![(500, "{}"), (503, busy), (409, running)]).await;
    let client = OwpClient::new(&base)
        .unwrap()
        .with_worker_token(Some("w".into()));
    client.ack("l1").await.expect("answered in the end");
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(
        !keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]),
        "{keys:?}"
    );
}

#[tokio::test]
async fn retries_are_bounded_and_a_refusal_is_not_retried() {
    let (base, keys) = answering(vec![(500, "{}"); 10]).await;
    let client = OwpClient::new(&base)
        .unwrap()
        .with_worker_token(Some("w".into()));
    let started = std::time::Instant::now();
    let err = client.ack("l1").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(keys.lock().unwrap().len(), RETRY_ATTEMPTS as usize);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let gone = r#"{"title":"Conflict","status":409,"code":"lease_not_held","detail":"x"}"#;
    let (base, keys) = answering(vec![(409, gone)]).await;
    let client = OwpClient::new(&base)
        .unwrap()
        .with_worker_token(Some("w".into()));
    let err = client.ack("l1").await.unwrap_err();
    assert_eq!(err.code(), Some("lease_not_held"));
    assert_eq!(keys.lock().unwrap().len(), 1);
}
