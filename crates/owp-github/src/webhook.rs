//! Taking in GitHub's deliveries (the route, `POST /github/webhook`, is `http::github_webhook`):
//! [`receive`] checks the signature (`X-Hub-Signature-256`, any of the configured secrets) on the
//! raw body before anything is parsed or stored, and stores a verified delivery in the inbox
//! under its `X-GitHub-Delivery` id (without the parts the App never reads, see [`slim`]); the
//! inbox consumer applies it afterwards, in order with the earlier deliveries of its [`lane`].
//! Nothing here waits on GitHub or on applying the event.
//!
//! The bounds on bodies: at most GitHub's 25 MB, `OWP_WEBHOOK_CONCURRENCY` of them read at once
//! ([`body_room`], [`room_for`]), each within [`WEBHOOK_READ_TIMEOUT`].

use std::sync::atomic::Ordering;

use crate::service::Github;
use crate::store::StoreError;
use crate::store::github::inbox::DeliveryLane;

/// GitHub caps payloads at 25 MB.
pub const WEBHOOK_BODY_LIMIT: usize = 26 * 1024 * 1024;
/// How long one webhook body may take to arrive (GitHub gives a delivery 10 s in all).
pub const WEBHOOK_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long a delivery waits for room to read its body before it is refused.
pub const WEBHOOK_ROOM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const MIB: u64 = 1 << 20;

/// The room, in MiB, for `bodies` webhook bodies of the largest size.
pub fn body_room(bodies: u32) -> usize {
    bodies as usize * WEBHOOK_BODY_LIMIT.div_ceil(MIB as usize)
}

/// The room a body takes, in MiB: its declared length, or the most when none is declared.
pub fn room_for(declared: Option<u64>) -> u32 {
    let most = WEBHOOK_BODY_LIMIT as u64;
    let bytes = declared.unwrap_or(most).clamp(1, most);
    u32::try_from(bytes.div_ceil(MIB)).unwrap_or(u32::MAX)
}

/// The events the App stores; others are acknowledged and dropped at once.
pub const STORED_EVENTS: [&str; 12] = [
    "ping",
    "installation",
    "installation_repositories",
    "issues",
    "issue_comment",
    "pull_request",
    "check_suite",
    "check_run",
    "status",
    "repository",
    "issue_dependencies",
    "push",
];

/// The events an App subscribes to in its settings: every stored event but those GitHub sends
/// every App (`ping`, `installation`, `installation_repositories`).
pub fn subscribed_events() -> impl Iterator<Item = &'static str> {
    STORED_EVENTS
        .into_iter()
        .filter(|e| !matches!(*e, "ping" | "installation" | "installation_repositories"))
}

/// What became of a verified delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// An event the App does not use: acknowledged, not stored.
    Ignored,
    /// Stored in the inbox; the consumer applies it.
    Queued,
    /// Seen before (its delivery id, or the same signed body): acknowledged, not applied again.
    Duplicate,
}

/// Why a delivery was refused (nothing was stored).
#[derive(Debug)]
pub enum Refused {
    /// No `GITHUB_WEBHOOK_SECRET` is configured, so nothing can be verified.
    NoSecret,
    /// The signature is missing or wrong.
    BadSignature(String),
    MissingDelivery,
    MissingEvent,
    /// The body is not JSON.
    Malformed,
    Store(StoreError),
}

/// Checks a delivery's signature on its raw body, then stores it in the inbox (unless it is an
/// event the App does not use, or was seen before).
pub async fn receive(
    github: &Github,
    signature: Option<&str>,
    delivery: &str,
    event: &str,
    body: &[u8],
) -> Result<Received, Refused> {
    let Some(secrets) = &github.secrets else {
        tracing::warn!("webhook refused: no GITHUB_WEBHOOK_SECRET is configured");
        return Err(Refused::NoSecret);
    };
    if let Err(e) = secrets.verify(signature, body) {
        tracing::warn!(error = %e, "webhook refused: bad signature");
        crate::observe::report(|o| o.webhook_delivery(event, "bad_signature"));
        return Err(Refused::BadSignature(e.to_string()));
    }
    if delivery.is_empty() || delivery.len() > 200 {
        return Err(Refused::MissingDelivery);
    }
    if event.is_empty() {
        return Err(Refused::MissingEvent);
    }
    if !STORED_EVENTS.contains(&event) {
        tracing::debug!("event not used; acknowledged");
        crate::observe::report(|o| o.webhook_delivery("other", "ignored"));
        return Ok(Received::Ignored);
    }
    let Ok(mut payload) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(Refused::Malformed);
    };
    slim(&mut payload);
    let text = payload.to_string();
    let body_sha256 = replay_key(event, body);
    let now = crate::store::now_ms();
    github.receiving.fetch_add(1, Ordering::SeqCst);
    let stored = github
        .store
        .inbox()
        .store_delivery(
            delivery,
            event,
            &text,
            body_sha256.as_deref(),
            lane(event, &payload),
            now,
        )
        .await;
    github.receiving.fetch_sub(1, Ordering::SeqCst);
    if stored.map_err(Refused::Store)? {
        github.inbox_wake.notify_one();
        crate::observe::report(|o| o.webhook_delivery(event, "queued"));
        tracing::debug!("delivery stored");
        Ok(Received::Queued)
    } else {
        tracing::info!("delivery seen before; acknowledged, not applied again");
        crate::observe::report(|o| o.webhook_delivery(event, "duplicate"));
        Ok(Received::Duplicate)
    }
}

/// What a delivery waits for before it is applied (see [`DeliveryLane`]): the earlier
/// deliveries of its repository, named by GitHub's id of it (which a rename or a transfer keeps),
/// and those spanning its installation. `installation` and `installation_repositories` events
/// span their installation; a delivery that names no installation (`ping`) waits for all.
pub fn lane(event: &str, payload: &serde_json::Value) -> DeliveryLane {
    let installation = payload["installation"]["id"].as_i64();
    let spans = matches!(event, "installation" | "installation_repositories");
    DeliveryLane {
        installation,
        repo: installation
            .filter(|_| !spans)
            .and(payload["repository"]["id"].as_i64()),
    }
}

/// Drops what the App never reads from a payload before it is stored: links to other API
/// resources (`*_url` other than `html_url`, `_links`), node ids, reaction counts and the copies
/// of whole repositories inside a pull request's `head` and `base`. GitHub's payloads are mostly
/// these; the inbox stays small and quick to read, and every field [`crate::events`]
/// reads is kept (a test parses every fixture both ways).
pub fn slim(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| {
                !(key == "node_id"
                    || key == "_links"
                    || key == "reactions"
                    || key == "repo"
                    || key == "gravatar_id"
                    || (key.ends_with("_url") && key != "html_url"))
            });
            for v in map.values_mut() {
                slim(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(slim),
        _ => {}
    }
}

/// What finds a replay: the SHA-256 of the event name and the signed body. The same signed body
/// under a new delivery id is acknowledged and not applied again. Not for `ping` (nothing to
/// apply) nor `issues`: an issue's events carry its whole state and may repeat byte for byte within
/// one second (a label added, removed and added again); replaying one restores an earlier state
/// of the issue only until the next reconciliation.
pub fn replay_key(event: &str, body: &[u8]) -> Option<String> {
    use sha2::Digest;
    if matches!(event, "ping" | "issues") {
        return None;
    }
    let mut hash = sha2::Sha256::new();
    hash.update(event.as_bytes());
    hash.update([0]);
    hash.update(body);
    Some(hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::parse_event;

    #[test]
    fn a_delivery_waits_for_its_repository_and_its_installation_events() {
        let issue = serde_json::json!({"installation": {"id": 7}, "repository": {"id": 42}});
        let repo = DeliveryLane {
            installation: Some(7),
            repo: Some(42),
        };
        assert_eq!(lane("issues", &issue), repo);
        let spanning = DeliveryLane {
            installation: Some(7),
            repo: None,
        };
        for event in ["installation", "installation_repositories"] {
            assert_eq!(lane(event, &issue), spanning, "{event}");
        }
        let no_repo = serde_json::json!({"installation": {"id": 7}});
        assert_eq!(lane("push", &no_repo), spanning);
        let ping = serde_json::json!({"zen": "Keep it simple.", "repository": {"id": 42}});
        assert_eq!(lane("ping", &ping), DeliveryLane::default());
    }

    #[test]
    fn bodies_take_room_by_their_declared_length() {
        assert_eq!(room_for(Some(0)), 1);
        assert_eq!(room_for(Some(7_000)), 1);
        assert_eq!(room_for(Some(MIB + 1)), 2);
        assert_eq!(room_for(Some(25_000_000)), 24);
        assert_eq!(room_for(None), 26, "unknown length: the most");
        assert_eq!(room_for(Some(u64::MAX)), 26);
        assert_eq!(body_room(4), 4 * 26);
        // A body of the largest size always fits in the room of one.
        assert!(room_for(None) as usize <= body_room(1));
    }

    #[test]
    fn slimmed_payloads_parse_into_the_same_events() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/github");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let event = stem.split('.').next().unwrap();
            let full = std::fs::read(&path).unwrap();
            let mut value: serde_json::Value = serde_json::from_slice(&full).unwrap();
            slim(&mut value);
            let slimmed = value.to_string();
            assert!(slimmed.len() < full.len(), "{name}");
            assert_eq!(
                format!("{:?}", parse_event(event, &full).unwrap()),
                format!("{:?}", parse_event(event, slimmed.as_bytes()).unwrap()),
                "{name}"
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} fixtures");
    }
}
