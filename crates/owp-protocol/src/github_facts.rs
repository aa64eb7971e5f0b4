//! What only GitHub says of a pull request (contract section 14, "GitHub's facts come only from
//! GitHub"): its author, its checks, its commits' signatures, whether it merged and whom a merge
//! credits. The service records these on a task's artifact from GitHub's own answers; a worker's
//! report may carry `pr_url`, `evidence`, `disclosure` and notes of its own, never one of these.

use serde_json::Value;

use super::limits::OutOfBounds;

/// The artifact keys that GitHub decides (or that the service records from what GitHub said): a
/// worker's report naming one is refused, on the first report and every later one.
pub const DECIDED_BY_GITHUB: [&str; 10] = [
    "author",
    "checks",
    "commits",
    "credit",
    "merged",
    "merged_at",
    "paths_too_broad",
    "pr_author",
    "reviewer",
    "verified",
];

/// Refuses a worker's artifact that names a key GitHub decides (`422 not_reported_by_workers`,
/// naming the first such key).
pub fn not_reported(artifact: Option<&Value>) -> Result<(), OutOfBounds> {
    let Some(object) = artifact.and_then(Value::as_object) else {
        return Ok(());
    };
    match DECIDED_BY_GITHUB.iter().find(|k| object.contains_key(**k)) {
        None => Ok(()),
        Some(key) => Err(OutOfBounds {
            code: "not_reported_by_workers",
            detail: format!(
                "`artifact.{key}` is what GitHub says of the pull request, never what a worker \
                 reports: send `pr_url`, `evidence`, `disclosure` and notes, and the pool reads \
                 the rest from GitHub"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_of_what_github_decides_is_refused_naming_the_key() {
        for key in DECIDED_BY_GITHUB {
            let artifact = json!({"pr_url": "https://github.com/a/b/pull/1", key: true});
            let refused = not_reported(Some(&artifact)).unwrap_err();
            assert_eq!(refused.code, "not_reported_by_workers");
            assert!(
                refused.detail.contains(&format!("`artifact.{key}`")),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn what_a_worker_reports_passes() {
        let artifact = json!({
            "pr_url": "https://github.com/a/b/pull/1",
            "evidence": {"head_sha": "a1", "commands": []},
            "disclosure": {"tool": "none"},
            "branch": "fix", "commit_sha": "a1", "x_note": 1,
        });
        assert_eq!(not_reported(Some(&artifact)), Ok(()));
        assert_eq!(not_reported(None), Ok(()));
        assert_eq!(not_reported(Some(&json!("text"))), Ok(()));
    }
}
