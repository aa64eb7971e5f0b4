//! A worker proves its person with GitHub's device flow through the pool (the contract's section
//! 14): start a flow, then poll it until the person approved on GitHub.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Auth, Body, ClientError, OwpClient, Retry};

/// `POST /v1/workers/link/device` answer: the person enters `user_code` at `verification_uri`.
#[derive(Clone, Debug, Deserialize)]
pub struct DeviceLinkStart {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    /// Seconds between two polls.
    pub interval: u64,
    /// Seconds until the codes expire.
    pub expires_in: u64,
}

/// `POST /v1/workers/link/device/token` answer once linked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerLinked {
    pub worker_id: String,
    pub github_login: String,
    pub github_account_id: i64,
    /// The worker that spoke for the account until now (it no longer does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_worker: Option<String>,
    /// The tasks whose claims moved to this worker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_tasks: Vec<String>,
}

impl WorkerLinked {
    /// The link in words: which account, which worker speaks for it now and which stopped.
    pub fn said(&self) -> String {
        let mut line = format!(
            "Linked to GitHub account {}: worker {} speaks for it now",
            self.github_login, self.worker_id
        );
        if let Some(left) = &self.replaced_worker {
            line.push_str(&format!("; worker {left} no longer does"));
            if !self.moved_tasks.is_empty() {
                line.push_str(&format!(
                    " (its {} claim(s) moved here: {})",
                    self.moved_tasks.len(),
                    self.moved_tasks.join(", ")
                ));
            }
        }
        line
    }
}

impl OwpClient {
    /// `POST /v1/workers/link/device`: starts proving this worker's person (404 when the pool has
    /// no GitHub App with an OAuth client).
    pub async fn link_device_start(&self) -> Result<DeviceLinkStart, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/link/device",
            Auth::Worker,
            Body::json(&serde_json::json!({})),
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/workers/link/device/token`: polls once (`428 authorization_pending` until the
    /// person approved; `429 slow_down` when polled too often).
    pub async fn link_device_poll(&self, device_code: &str) -> Result<WorkerLinked, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/link/device/token",
            Auth::Worker,
            Body::json(&serde_json::json!({ "device_code": device_code })),
            Retry::Never,
        )
        .await
    }
}
