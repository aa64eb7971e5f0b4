//! The admin's endpoints (`/v1/admin/…`), and those an admin or anyone may read (`/v1/meta`,
//! `/v1/leaderboard`, `/healthz`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Auth, BeadsAnswer, Body, Changed, ClientError, OwpClient, REQUEST_TIMEOUT, RepoPolicy, Retry,
    State, Task, Worker, query_value, segment,
};

#[derive(Deserialize)]
struct ImportAnswer {
    tasks: Vec<Task>,
}

impl OwpClient {
    /// `POST /v1/admin/repos`: create or update a repo policy.
    pub async fn upsert_repo(
        &self,
        repo: &str,
        max_open_prs: i64,
        area_locks_enabled: Option<bool>,
    ) -> Result<RepoPolicy, ClientError> {
        self.upsert_repo_with(repo, max_open_prs, area_locks_enabled, None)
            .await
    }

    /// [`OwpClient::upsert_repo`] that also sets who may read the repository's board.
    pub async fn upsert_repo_with(
        &self,
        repo: &str,
        max_open_prs: i64,
        area_locks_enabled: Option<bool>,
        visibility: Option<crate::domain::Visibility>,
    ) -> Result<RepoPolicy, ClientError> {
        let mut body = serde_json::json!({ "repo": repo, "max_open_prs": max_open_prs });
        if let Some(locks) = area_locks_enabled {
            body["area_locks_enabled"] = Value::Bool(locks);
        }
        if let Some(v) = visibility {
            body["visibility"] = Value::String(v.as_str().to_string());
        }
        self.call(
            Method::POST,
            "/v1/admin/repos",
            Auth::Admin,
            Body::json(&body),
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/admin/repos` with a whole body (`contract`, `clone_url`, …).
    pub async fn upsert_repo_body(&self, body: &Value) -> Result<RepoPolicy, ClientError> {
        self.call(
            Method::POST,
            "/v1/admin/repos",
            Auth::Admin,
            Body::json(body),
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/admin/tasks` with a JSON document `{repo, tasks: [...]}`.
    pub async fn import_tasks(
        &self,
        repo: &str,
        tasks: &[Value],
    ) -> Result<Vec<Task>, ClientError> {
        let body = serde_json::json!({ "repo": repo, "tasks": tasks });
        let answer: ImportAnswer = self
            .call(
                Method::POST,
                "/v1/admin/tasks",
                Auth::Admin,
                Body::json(&body),
                Retry::Safe,
            )
            .await?;
        Ok(answer.tasks)
    }

    /// `POST /v1/admin/tasks/beads?repo=R` with a Beads `issues.jsonl` sent as it is.
    pub async fn import_beads(
        &self,
        repo: &str,
        jsonl: String,
    ) -> Result<BeadsAnswer, ClientError> {
        let body = Body::Raw {
            content_type: "application/x-ndjson",
            bytes: jsonl.into_bytes(),
        };
        self.call(
            Method::POST,
            &format!("/v1/admin/tasks/beads?repo={}", query_value(repo)),
            Auth::Admin,
            body,
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/admin/tasks` with a YAML document sent as it is (`Content-Type: application/yaml`).
    pub async fn import_tasks_yaml(&self, yaml: String) -> Result<Vec<Task>, ClientError> {
        let body = Body::Raw {
            content_type: "application/yaml",
            bytes: yaml.into_bytes(),
        };
        let answer: ImportAnswer = self
            .call(
                Method::POST,
                "/v1/admin/tasks",
                Auth::Admin,
                body,
                Retry::Safe,
            )
            .await?;
        Ok(answer.tasks)
    }

    /// `GET /v1/admin/state[?repo=R]`. The repo filter is also applied here, so the answer is
    /// right whether or not the server knows that parameter.
    pub async fn admin_state(&self, repo: Option<&str>) -> Result<State, ClientError> {
        let path = match repo {
            Some(r) => format!("/v1/admin/state?repo={}", query_value(r)),
            None => "/v1/admin/state".to_string(),
        };
        let mut state: State = self
            .call(Method::GET, &path, Auth::Admin, Body::None, Retry::Safe)
            .await?;
        if let Some(repo) = repo {
            state.repos.retain(|p| p.repo == repo);
            state.tasks.retain(|t| t.repo == repo);
            state
                .events
                .retain(|e| e.repo.as_deref().is_none_or(|r| r == repo));
        }
        Ok(state)
    }

    /// `POST /v1/admin/tasks/{id}/status`: force a status.
    pub async fn admin_task_status(
        &self,
        task_id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<Changed, ClientError> {
        let path = format!("/v1/admin/tasks/{}/status", segment(task_id));
        let mut body = serde_json::json!({ "status": status });
        if let Some(reason) = reason {
            body["reason"] = Value::String(reason.to_string());
        }
        self.call(
            Method::POST,
            &path,
            Auth::Admin,
            Body::json(&body),
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/admin/workers/{id}`: change trust level and/or status.
    pub async fn admin_update_worker(
        &self,
        worker_id: &str,
        trust_level: Option<i64>,
        status: Option<&str>,
    ) -> Result<Worker, ClientError> {
        let path = format!("/v1/admin/workers/{}", segment(worker_id));
        let mut body = serde_json::json!({});
        if let Some(trust) = trust_level {
            body["trust_level"] = Value::from(trust);
        }
        if let Some(status) = status {
            body["status"] = Value::String(status.to_string());
        }
        let changed: Changed = self
            .call(
                Method::POST,
                &path,
                Auth::Admin,
                Body::json(&body),
                Retry::Safe,
            )
            .await?;
        // The worker itself, or `{worker: …}`.
        let value = match changed.0.get("worker") {
            Some(w) if w.is_object() => w.clone(),
            _ => changed.0,
        };
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            method: "POST".into(),
            path,
            message: e.to_string(),
        })
    }

    /// `GET /v1/leaderboard[?repo=R][&days=N]`, with the admin token when one is set (every
    /// repository) or without (public repositories, when the server has public boards).
    pub async fn leaderboard(
        &self,
        repo: Option<&str>,
        days: Option<i64>,
    ) -> Result<Value, ClientError> {
        let mut query = Vec::new();
        if let Some(r) = repo {
            query.push(format!("repo={}", query_value(r)));
        }
        if let Some(d) = days {
            query.push(format!("days={d}"));
        }
        let path = if query.is_empty() {
            "/v1/leaderboard".to_string()
        } else {
            format!("/v1/leaderboard?{}", query.join("&"))
        };
        let auth = if self.admin_token.is_some() {
            Auth::Admin
        } else {
            Auth::None
        };
        self.call(Method::GET, &path, auth, Body::None, Retry::Safe)
            .await
    }

    /// `GET /v1/admin/vouched?repo=`: a repository's merged vouch list.
    pub async fn admin_vouched(&self, repo: &str) -> Result<Value, ClientError> {
        let path = format!("/v1/admin/vouched?repo={}", query_value(repo));
        self.call(Method::GET, &path, Auth::Admin, Body::None, Retry::Safe)
            .await
    }

    /// `GET /v1/meta`: the protocol versions and optional features the server implements.
    pub async fn meta(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, "/v1/meta", Auth::None, Body::None, Retry::Safe)
            .await
    }

    /// `POST path` with the admin's (or a signed-in maintainer's) credentials; the answer as JSON.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            path,
            Auth::Admin,
            Body::json(body),
            Retry::Safe,
        )
        .await
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.send(
            Method::GET,
            "/healthz",
            Auth::None,
            Body::None,
            Retry::Safe,
            REQUEST_TIMEOUT,
        )
        .await
        .map(|_| ())
    }
}
