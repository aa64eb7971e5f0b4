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
