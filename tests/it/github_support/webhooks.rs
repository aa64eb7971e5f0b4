//! The fake's webhook side: payloads made from the model, signed deliveries sent to the App,
//! the deliveries list and redelivery.

use chrono::Utc;
use serde_json::{Value, json};

use super::model::{Delivery, Model};
use super::{FakeGithub, Shared, TEST_APP_ID, json as shape};

impl FakeGithub {
    /// Sends deliveries to `url` from now on, signed with `secret` (the first of the App's
    /// webhook secrets).
    pub fn set_webhook_target(&self, url: &str, secret: &str) {
        *self.shared.webhook.lock().unwrap() = Some((url.to_string(), secret.to_string()));
    }

    /// Signs `payload` as GitHub does, sends it to the webhook target and records the delivery.
    /// Returns the HTTP status the App answered (502 when it could not be reached).
    pub async fn send_webhook(&self, event: &str, payload: &Value) -> u16 {
        let guid = uuid::Uuid::new_v4().to_string();
        let id = record(&self.shared, event, &guid, payload, false);
        let status = post(&self.shared, event, &guid, payload).await;
        set_status(&self.shared, id, status);
        status
    }

    /// Sends `payload` again under an existing delivery's GUID, as GitHub's redelivery does.
    pub async fn resend_webhook(&self, delivery_id: u64) -> u16 {
        redeliver(&self.shared, delivery_id).await
    }

    /// Records a delivery that GitHub could not make (the App was down): listed as failed by
    /// `GET /app/hook/deliveries`, not sent. Returns its delivery id.
    pub fn add_failed_delivery(&self, event: &str, payload: &Value) -> u64 {
        let guid = uuid::Uuid::new_v4().to_string();
        let id = record(&self.shared, event, &guid, payload, false);
        set_status(&self.shared, id, 502);
        id
    }

    /// An `issues` payload for the issue as it is now. `label` goes with `labeled`/`unlabeled`;
    /// `previous` (title, body) with `edited`.
    pub fn issue_payload(
        &self,
        repo: &str,
        number: u64,
        action: &str,
        sender: &str,
        label: Option<&str>,
    ) -> Value {
        let api = self.shared.api.clone();
        let mut m = self.shared.model.lock().unwrap();
        let r = m.repo(repo).expect("unknown repo").clone();
        let issue = r.issues.get(&number).expect("unknown issue").clone();
        let mut payload = json!({
            "action": action,
            "issue": shape::issue(&api, &mut m, &r, &issue),
            "repository": shape::repo(&api, &mut m, &r),
            "sender": shape::user(&api, &mut m, sender),
            "installation": installation_ref(r.installation),
        });
        if let Some(label) = label {
            payload["label"] = shape::label(&api, &r.full_name, label);
        }
        if action == "edited" {
            payload["changes"] = json!({});
        }
        payload
    }

    /// An `issue_comment` payload for the comment as it is now; `previous_body` goes with
    /// `edited`.
    pub fn comment_payload(
        &self,
        comment_id: u64,
        action: &str,
        previous_body: Option<&str>,
    ) -> Value {
        let api = self.shared.api.clone();
        let mut m = self.shared.model.lock().unwrap();
        let c = m
            .comments
            .get(&comment_id)
            .expect("unknown comment")
            .clone();
        let r = m.repo(&c.repo).expect("unknown repo").clone();
        let issue = match (r.issues.get(&c.number), r.pulls.get(&c.number)) {
            (Some(issue), _) => shape::issue(&api, &mut m, &r, issue),
            (None, Some(pull)) => shape::pull_as_issue(&api, &mut m, &r, pull),
            (None, None) => panic!("comment on nothing"),
        };
        let mut payload = json!({
            "action": action,
            "issue": issue,
            "comment": shape::comment(&api, &mut m, &c),
            "repository": shape::repo(&api, &mut m, &r),
            "sender": shape::user(&api, &mut m, &c.author),
            "installation": installation_ref(r.installation),
        });
        if let Some(previous) = previous_body {
            payload["changes"] = json!({"body": {"from": previous}});
        }
        payload
    }

    /// A `pull_request` payload for the pull request as it is now; `previous_body` goes with
    /// `edited`.
    pub fn pr_payload(
        &self,
        repo: &str,
        number: u64,
        action: &str,
        sender: &str,
        previous_body: Option<&str>,
    ) -> Value {
        let api = self.shared.api.clone();
        let mut m = self.shared.model.lock().unwrap();
        let r = m.repo(repo).expect("unknown repo").clone();
        let pull = r.pulls.get(&number).expect("unknown pull request").clone();
        let mut payload = json!({
            "action": action,
            "number": number,
            "pull_request": shape::pull(&api, &mut m, &r, &pull),
            "repository": shape::repo(&api, &mut m, &r),
            "sender": shape::user(&api, &mut m, sender),
            "installation": installation_ref(r.installation),
        });
        if let Some(previous) = previous_body {
            payload["changes"] = json!({"body": {"from": previous}});
        }
        payload
    }

    /// An `installation` payload (`created`, `deleted`, `suspend`, `unsuspend`).
    pub fn installation_payload(&self, installation_id: u64, action: &str) -> Value {
        let api = self.shared.api.clone();
        let mut m = self.shared.model.lock().unwrap();
        let repos: Vec<Value> = m
            .repos
            .values()
            .filter(|r| r.installation == Some(installation_id))
            .map(shape::repo_name)
            .collect();
        let account = m.installations[&installation_id].account.clone();
        json!({
            "action": action,
            "installation": shape::installation(&api, &mut m, installation_id),
            "repositories": repos,
            "sender": shape::user(&api, &mut m, &account),
        })
    }

    /// An `installation_repositories` payload.
    pub fn installation_repositories_payload(
        &self,
        installation_id: u64,
        added: &[&str],
        removed: &[&str],
    ) -> Value {
        let api = self.shared.api.clone();
        let mut m = self.shared.model.lock().unwrap();
        let names = |m: &Model, list: &[&str]| -> Vec<Value> {
            list.iter()
                .map(|name| shape::repo_name(m.repo(name).expect("unknown repo")))
                .collect()
        };
        let added = names(&m, added);
        let removed = names(&m, removed);
        let account = m.installations[&installation_id].account.clone();
        json!({
            "action": if removed.is_empty() { "added" } else { "removed" },
            "installation": shape::installation(&api, &mut m, installation_id),
            "repository_selection": "selected",
            "repositories_added": added,
            "repositories_removed": removed,
            "requester": null,
            "sender": shape::user(&api, &mut m, &account),
        })
    }
}

fn installation_ref(id: Option<u64>) -> Value {
    match id {
        Some(id) => json!({"id": id, "node_id": format!("IN_{id}")}),
        None => Value::Null,
    }
}

fn record(shared: &Shared, event: &str, guid: &str, payload: &Value, redelivery: bool) -> u64 {
    let mut m = shared.model.lock().unwrap();
    let id = m.next_id();
    m.deliveries.push(Delivery {
        id,
        guid: guid.to_string(),
        event: event.to_string(),
        action: payload
            .get("action")
            .and_then(Value::as_str)
            .map(str::to_string),
        status_code: 0,
        redelivery,
        delivered_at: Utc::now(),
        installation_id: payload
            .get("installation")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_u64),
        payload: payload.clone(),
    });
    id
}

fn set_status(shared: &Shared, id: u64, status: u16) {
    let mut m = shared.model.lock().unwrap();
    if let Some(d) = m.deliveries.iter_mut().find(|d| d.id == id) {
        d.status_code = status;
    }
}

/// Sends delivery `delivery_id` again, under its GUID, and records the attempt.
pub(super) async fn redeliver(shared: &Shared, delivery_id: u64) -> u16 {
    let original = {
        let m = shared.model.lock().unwrap();
        m.deliveries.iter().find(|d| d.id == delivery_id).cloned()
    };
    let Some(original) = original else {
        return 404;
    };
    let id = record(
        shared,
        &original.event,
        &original.guid,
        &original.payload,
        true,
    );
    let status = post(shared, &original.event, &original.guid, &original.payload).await;
    set_status(shared, id, status);
    status
}

async fn post(shared: &Shared, event: &str, guid: &str, payload: &Value) -> u16 {
    let Some((url, secret)) = shared.webhook.lock().unwrap().clone() else {
        return 502;
    };
    let body = serde_json::to_vec(payload).unwrap();
    let signature = owp::github::signature::sign(secret.as_bytes(), &body);
    let response = shared
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/fake")
        .header("x-github-event", event)
        .header("x-github-delivery", guid)
        .header("x-github-hook-id", "1")
        .header("x-github-hook-installation-target-type", "integration")
        .header(
            "x-github-hook-installation-target-id",
            TEST_APP_ID.to_string(),
        )
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) => r.status().as_u16(),
        Err(_) => 502,
    }
}
