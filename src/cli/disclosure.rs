//! What a worker's own tools say about the pull requests they open: the disclosure
//! (`artifact.disclosure: {tool, model?}`) that `owp worker run --agent` and `owp mcp` add to a
//! `pr_opened` report, taken from the worker's `agent` (and `model`) capability as registered.

use serde_json::Value;

use crate::cli::client::OwpClient;
use crate::domain::disclosure::Disclosure;

/// `artifact` with the worker's disclosure added, when the artifact has none and the worker
/// declares an `agent` capability (read from the server, so the registration is what counts).
/// A failed read adds nothing: the server then answers for a repository that requires it.
pub async fn disclose(client: &OwpClient, artifact: Value) -> Value {
    if artifact.get("disclosure").is_some() {
        return artifact;
    }
    match client.me().await {
        Ok(me) => with_capabilities(artifact, &me.worker.capabilities),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the worker's capabilities for a disclosure");
            artifact
        }
    }
}

/// `artifact` with `disclosure` taken from `capabilities` (see [`Disclosure::from_capabilities`]).
pub fn with_capabilities(mut artifact: Value, capabilities: &Value) -> Value {
    let disclosure = capabilities
        .as_object()
        .and_then(Disclosure::from_capabilities);
    if let (Some(d), Some(object)) = (disclosure, artifact.as_object_mut()) {
        object.insert("disclosure".into(), serde_json::json!(d));
    }
    artifact
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_agent_capability_becomes_the_disclosure() {
        let url = json!({"pr_url": "https://x.test/pull/1"});
        let caps = json!({"agent_handoff": true, "agent": "claude", "model": "opus"});
        assert_eq!(
            with_capabilities(url.clone(), &caps)["disclosure"],
            json!({"tool": "claude", "model": "opus"})
        );
        assert_eq!(with_capabilities(url.clone(), &json!({})), url);
        assert_eq!(with_capabilities(url.clone(), &json!(null)), url);
    }
}
