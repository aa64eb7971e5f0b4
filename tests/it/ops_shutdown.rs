//! Graceful shutdown of `owp serve` (what a container's `SIGTERM` does): open long polls and event
//! streams end promptly, the process exits 0, and the database is intact afterwards.

#![cfg(unix)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "shutdown-test-admin-token";

struct Serve {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts `owp serve` on `db` (on a free port, retried if another process takes it first).
async fn serve(dir: &Path, db: &Path) -> Serve {
    let http = reqwest::Client::new();
    for attempt in 0..5 {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = dir.join(format!("serve-{port}-{attempt}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--db",
        ])
        .arg(db)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out));
        for (key, _) in std::env::vars() {
            if key.starts_with("OWP_") || key.starts_with("GITHUB_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("OWP_ADMIN_TOKEN", TOKEN);
        let mut server = Serve {
            child: cmd.spawn().expect("spawn owp serve"),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = server.child.try_wait() {
                break;
            }
            let ready = http
                .get(format!("{}/v1/admin/state", server.base))
                .header("X-Admin-Token", TOKEN)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "owp serve did not start:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("owp serve did not start after several attempts");
}

async fn post(http: &reqwest::Client, url: String, auth: (&str, &str), body: Value) -> Value {
    let r = http
        .post(url)
        .header(auth.0, auth.1)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_ends_long_polls_and_streams_then_exits_zero_with_the_database_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("owp.db");
    let mut server = serve(dir.path(), &db).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let admin = ("X-Admin-Token", TOKEN);

    // Some state to find again after the restart: a repo, two tasks, one of them leased.
    post(
        &http,
        format!("{base}/v1/admin/repos"),
        admin,
        json!({"repo": "acme/web", "max_open_prs": 3}),
    )
    .await;
    let tasks = post(
        &http,
        format!("{base}/v1/admin/tasks"),
        admin,
        json!({"repo": "acme/web", "tasks": [
            {"key": "W-1", "title": "Fix the login", "required_skills": ["rust"]},
            {"key": "W-2", "title": "Write the guide", "required_skills": ["docs"]},
        ]}),
    )
    .await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 2);
    let register = |name: &str, skills: Value| {
        let http = http.clone();
        let url = format!("{base}/v1/workers/register");
        let body = json!({"name": name, "skills": skills, "capacity_points": 5, "max_concurrent_tasks": 2});
        async move { post(&http, url, ("X-Unused", "1"), body).await }
    };
    let busy = register("busy", json!(["rust"])).await;
    let busy_token = format!("Bearer {}", busy["token"].as_str().unwrap());
    let lease = post(
        &http,
        format!("{base}/v1/work"),
        ("Authorization", &busy_token),
        json!({}),
    )
    .await;
    let leased_task = lease["lease"]["task"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let idle = register("idle", json!(["cobol"])).await;
    let idle_token = format!("Bearer {}", idle["token"].as_str().unwrap());

    // An open event stream and a long poll that would wait 20 s for work that never comes.
    let mut events = http
        .get(format!("{base}/v1/events"))
        .header("X-Admin-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let long_poll = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/v1/work?wait=20");
        async move {
            http.post(url)
                .header("Authorization", idle_token)
                .json(&json!({}))
                .send()
                .await
        }
    });
    // Give the long poll time to reach the server and start waiting.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!long_poll.is_finished(), "the long poll is waiting");

    let sent = Instant::now();
    sigterm(&server.child);

    let answer = tokio::time::timeout(Duration::from_secs(10), long_poll)
        .await
        .expect("the long poll ended well before its 20 s")
        .unwrap()
        .expect("the long poll got an answer, not a broken connection");
    assert_eq!(answer.status(), 204, "nothing eligible: 204");
    let stream_end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    })
    .await
    .expect("the event stream ended");
    assert!(stream_end, "the event stream ended cleanly");

    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "owp serve still running 10 s after SIGTERM:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        sent.elapsed()
    );
    assert!(server.log().contains("shutting down"), "{}", server.log());
    assert!(
        !PathBuf::from(format!("{}-wal", db.display())).exists(),
        "the database was closed (its write-ahead log checkpointed and removed)"
    );

    // The file is intact and holds everything: restart on it and read the state.
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        conn.close().await.unwrap();
    }
    drop(server);
    let again = serve(dir.path(), &db).await;
    let state: Value = http
        .get(format!("{}/v1/admin/state", again.base))
        .header("X-Admin-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["repos"][0]["repo"], "acme/web");
    assert_eq!(state["repos"][0]["active_leases"], 1);
    assert_eq!(state["workers"].as_array().unwrap().len(), 2);
    let tasks = state["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    let held = tasks
        .iter()
        .find(|t| t["task_id"] == leased_task.as_str())
        .unwrap();
    assert_eq!(held["status"], "leased");
    assert_eq!(held["assigned_worker_id"], busy["worker_id"]);
}
