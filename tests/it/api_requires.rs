//! Requirements on capabilities (contract section 8): `requires` on import (JSON and YAML) and on
//! every task object, its limits (422 naming the field), and rule 9 of section 5 — a task is
//! offered only to workers whose `capabilities` hold every requirement with an equal value, under
//! racing claims too. On SQLite; the racing claims on PostgreSQL when `OWP_TEST_DATABASE_URL` is
//! set.

use crate::support;

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn register_with(s: &Server, name: &str, capabilities: Value) -> (String, String) {
    let body = s
        .register(json!({"name": name, "skills": [], "capacity_points": 100,
            "max_concurrent_tasks": 100, "capabilities": capabilities}))
        .await
        .expect(201);
    (str_field(&body, "worker_id"), str_field(&body, "token"))
}

#[tokio::test]
async fn requires_is_imported_shown_and_enforced() {
    let s = Server::start().await;
    s.upsert_repo("acme/req", 10, false).await;
    let doc = "repo: acme/req\ntasks:\n  - key: t\n    title: Needs tests\n    priority: critical\n    requires:\n      can_run_tests: true\n      os: linux\n  - key: free\n    title: Free\n";
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(doc, "application/yaml")
        .send()
        .await;
    let body = r.expect(201);
    assert_eq!(
        body["tasks"][0]["requires"],
        json!({"can_run_tests": true, "os": "linux"})
    );
    assert_eq!(body["tasks"][1]["requires"], json!({}));
    let needy = str_field(&body["tasks"][0], "task_id");
    let free = str_field(&body["tasks"][1], "task_id");
    assert_eq!(s.task(&needy).await["requires"]["os"], "linux");

    // Without the capability (or with another value) only the free task is offered.
    let (_, plain) = register_with(&s, "plain", json!({"os": "linux"})).await;
    let (_, got, _) = s.claim_ok(&plain).await;
    assert_eq!(got, free);
    s.claim_none(&plain).await;
    let (_, wrong) = register_with(&s, "wrong", json!({"can_run_tests": 1, "os": "linux"})).await;
    s.claim_none(&wrong).await;
    let (_, able) = register_with(
        &s,
        "able",
        json!({"can_run_tests": true, "os": "linux", "x": 2}),
    )
    .await;
    let (_, got, lease) = s.claim_ok(&able).await;
    assert_eq!(got, needy);
    assert_eq!(lease["task"]["requires"]["can_run_tests"], true);

    // A re-import without `requires` drops the requirement; JSON import carries it too.
    let again = s
        .import(
            "acme/req",
            json!([{"key": "free", "title": "Free", "requires": {"gpu": "a100"}}]),
        )
        .await;
    assert_eq!(again[0]["requires"], json!({"gpu": "a100"}));
}

#[tokio::test]
async fn requires_beyond_its_limits_is_refused_and_nothing_is_imported() {
    let s = Server::start().await;
    s.upsert_repo("acme/bad-req", 10, false).await;
    let post = |requires: Value| {
        s.admin_post(
            "/v1/admin/tasks",
            json!({"repo": "acme/bad-req", "tasks": [
                {"key": "ok", "title": "fine"},
                {"key": "bad", "title": "bad", "requires": requires}
            ]}),
        )
    };
    let many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("c{i}"), json!(true))).collect();
    let cases = [
        (Value::Object(many), "too_many_items"),
        (json!({"Upper": true}), "invalid_requires"),
        (json!({"has space": true}), "invalid_requires"),
        (json!({"": true}), "invalid_requires"),
        (json!({"n".repeat(65): true}), "invalid_requires"),
        (json!({"nested": {"a": 1}}), "invalid_requires"),
        (json!({"list": [1]}), "invalid_requires"),
        (json!({"null": null}), "invalid_requires"),
        (json!({"long": "v".repeat(201)}), "field_too_long"),
    ];
    for (requires, code) in cases {
        let r = post(requires.clone()).await;
        assert_eq!(r.expect_problem(422), code, "{requires}");
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap()
                .contains("tasks[1].requires"),
            "{}",
            r.describe()
        );
    }
    let r = post(json!("not an object")).await;
    assert_eq!(r.status, 422, "{}", r.describe());
    // At the limits it is accepted.
    let full: serde_json::Map<String, Value> = (0..16)
        .map(|i| {
            (
                format!("c-{i}.x_{}", "n".repeat(50)),
                json!("v".repeat(200)),
            )
        })
        .collect();
    let state = s
        .admin_get("/v1/admin/state?repo=acme/bad-req")
        .await
        .expect(200);
    assert_eq!(
        state["tasks"].as_array().unwrap().len(),
        0,
        "nothing imported"
    );
    let r = post(Value::Object(full)).await;
    r.expect(201);
}

#[tokio::test]
async fn racing_claims_never_take_a_task_whose_requirement_the_worker_lacks() {
    const TASKS: usize = 24;
    const WORKERS: usize = 8;
    let s = Arc::new(Server::start_preferring_postgres(&[]).await);
    s.upsert_repo("acme/req-race", 100, false).await;
    let tasks: Vec<Value> = (0..TASKS)
        .map(|i| {
            if i % 2 == 0 {
                json!({"key": format!("n{i}"), "title": format!("needs {i}"), "priority": "critical",
                    "requires": {"can_run_tests": true}})
            } else {
                json!({"key": format!("f{i}"), "title": format!("free {i}"), "priority": "low"})
            }
        })
        .collect();
    let ids = s.import_ids("acme/req-race", json!(tasks)).await;
    let mut claimers = Vec::new();
    for i in 0..WORKERS {
        let able = i % 2 == 0;
        let caps = if able {
            json!({"can_run_tests": true})
        } else {
            json!({"can_run_tests": false})
        };
        let (_, token) = register_with(&s, &format!("r{i}"), caps).await;
        let s = s.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(lease) = s.claim_lease(&token).await {
                got.push(lease["task"].clone());
            }
            (able, got)
        }));
    }
    let mut taken = Vec::new();
    for c in claimers {
        let (able, got) = c.await.unwrap();
        for task in got {
            if !able {
                assert_eq!(
                    task["requires"],
                    json!({}),
                    "taken without the capability: {task}"
                );
            }
            taken.push(str_field(&task, "task_id"));
        }
    }
    taken.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(taken, want, "every task taken exactly once");
}
