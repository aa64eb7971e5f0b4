//! Task keys wherever `owp admin` takes a task id: `owp admin set-status DEMO-1 merged`.

use anyhow::anyhow;

use crate::cli::client::{OwpClient, Task};

/// The id of the task `wanted` names: a `t_…` id as it is, otherwise the task whose id or key it
/// is (in `repo`, when given). A key that several repositories share needs `repo`.
pub async fn task_id(
    client: &OwpClient,
    wanted: &str,
    repo: Option<&str>,
) -> anyhow::Result<String> {
    if wanted.starts_with("t_") && repo.is_none() {
        return Ok(wanted.to_string());
    }
    let state = client.admin_state(repo).await?;
    resolve(&state.tasks, wanted, repo)
}

/// [`task_id`] over a list of tasks.
pub fn resolve(tasks: &[Task], wanted: &str, repo: Option<&str>) -> anyhow::Result<String> {
    let in_repo = |t: &&Task| repo.is_none_or(|r| t.repo == r);
    if let Some(t) = tasks.iter().filter(in_repo).find(|t| t.task_id == wanted) {
        return Ok(t.task_id.clone());
    }
    let keyed: Vec<&Task> = tasks
        .iter()
        .filter(in_repo)
        .filter(|t| t.key.as_deref() == Some(wanted))
        .collect();
    match keyed.as_slice() {
        [one] => Ok(one.task_id.clone()),
        [] => Err(anyhow!(
            "no task with id or key {wanted:?}{} (see `owp admin state`)",
            repo.map(|r| format!(" in {r}")).unwrap_or_default()
        )),
        many => {
            let mut repos: Vec<&str> = many.iter().map(|t| t.repo.as_str()).collect();
            repos.sort_unstable();
            repos.dedup();
            Err(anyhow!(
                "the key {wanted:?} names tasks in {} repositories ({}): pass --repo REPO",
                repos.len(),
                repos.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, repo: &str, key: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "task_id": id, "repo": repo, "key": key, "title": "t", "status": "ready",
            "description": "", "estimate_points": 1, "priority": "normal", "required_skills": [],
            "tier": 0, "attempts": 0, "created_at": "", "updated_at": "",
        }))
        .unwrap()
    }

    #[test]
    fn keys_resolve_to_ids_and_ambiguity_names_the_repositories() {
        let tasks = [
            task("t_1", "acme/one", "DEMO-1"),
            task("t_2", "acme/two", "DEMO-1"),
            task("t_3", "acme/one", "ONLY-1"),
        ];
        assert_eq!(resolve(&tasks, "ONLY-1", None).unwrap(), "t_3");
        assert_eq!(resolve(&tasks, "t_2", None).unwrap(), "t_2");
        assert_eq!(resolve(&tasks, "DEMO-1", Some("acme/two")).unwrap(), "t_2");
        let e = resolve(&tasks, "DEMO-1", None).unwrap_err().to_string();
        assert!(
            e.contains("acme/one, acme/two") && e.contains("--repo"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let e = resolve(&tasks, "NOPE", Some("acme/one"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"NOPE\" in acme/one"), "{e}");
    }
}
