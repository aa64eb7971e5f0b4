//! What `owp admin state` says of a GitHub repository's settings files: why each is not (wholly)
//! used, and every setting of `.github/owp.yml` in force, section by section.

use serde_json::Value;

use super::clip;
use crate::domain::RepoPolicy;
use crate::domain::model::{CONFIG_ERROR_FIELD, SETTINGS_FIELD, VOUCH_ERRORS_FIELD};

/// The longest value shown of one setting.
const MAX_VALUE_CHARS: usize = 80;

/// Why `p`'s settings files are not (wholly) used, a `!` line each; nothing when they are, or for
/// a repository the GitHub App does not serve.
pub(super) fn errors_lines(p: &RepoPolicy) -> String {
    let mut out = String::new();
    let repo = &p.repo;
    if let Some(error) = p.extensions.get(CONFIG_ERROR_FIELD).and_then(Value::as_str) {
        let problems: Vec<&str> = error.lines().filter(|l| !l.trim().is_empty()).collect();
        if let [one] = problems.as_slice() {
            out.push_str(&format!(
                "  ! {repo}: its settings file is not used ({}); the last good settings stay in force\n",
                clip(one, 300)
            ));
        } else {
            out.push_str(&format!(
                "  ! {repo}: its settings file is not used; the last good settings stay in force. \
                 Each line that was not understood:\n"
            ));
            for problem in problems {
                out.push_str(&format!("      {}\n", clip(problem, 300)));
            }
        }
    }
    if let Some(Value::Array(errors)) = p.extensions.get(VOUCH_ERRORS_FIELD) {
        for error in errors.iter().filter_map(Value::as_str) {
            out.push_str(&format!("  ! {}\n", clip(error, 600)));
        }
    }
    out
}

/// Every setting of `p`'s `.github/owp.yml` in force: the top-level ones on one line, then a line
/// per section, in the file's order; nothing for a repository the GitHub App does not serve.
pub(super) fn in_force_lines(p: &RepoPolicy) -> String {
    let mut out = String::new();
    let repo = &p.repo;
    if let Some(Value::Object(settings)) = p.extensions.get(SETTINGS_FIELD) {
        out.push_str(&format!("  {repo} settings in force (.github/owp.yml):\n"));
        let mut sections: Vec<(&str, Vec<String>)> = Vec::new();
        for key in crate::github::repo_config::SETTING_KEYS {
            let Some(value) = settings.get(key) else {
                continue;
            };
            let (section, name) = key.split_once('.').unwrap_or(("", key));
            let item = format!("{name} {}", shown(value));
            match sections.iter_mut().find(|(s, _)| *s == section) {
                Some((_, items)) => items.push(item),
                None => sections.push((section, vec![item])),
            }
        }
        sections.sort_by_key(|(section, _)| !section.is_empty());
        for (section, items) in sections {
            let lead = if section.is_empty() {
                String::new()
            } else {
                format!("{section}: ")
            };
            out.push_str(&format!("    {lead}{}\n", items.join(" · ")));
        }
    }
    out
}

/// One value as a maintainer reads it: `none` for null, text as it is (quoted when it is empty
/// or spans lines), anything else as JSON.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Null => "none".to_string(),
        Value::String(s) if !s.is_empty() && !s.contains('\n') => s.clone(),
        other => other.to_string(),
    };
    clip(&text, MAX_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extensions: Value) -> RepoPolicy {
        let mut p: RepoPolicy = serde_json::from_value(serde_json::json!({
            "repo": "o/r", "max_open_prs": 3, "area_locks_enabled": true, "open_prs": 0,
            "active_leases": 0, "throttled": false, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        p.extensions = extensions.as_object().cloned().unwrap();
        p
    }

    #[test]
    fn every_setting_and_every_error_is_said() {
        let config = crate::github::repo_config::RepoConfig::parse(
            "claim:\n  approval: plan\ncontract:\n  pr_template: \"## What\\n\"\n",
        )
        .unwrap();
        let p = policy(serde_json::json!({
            CONFIG_ERROR_FIELD: ".github/owp.yml line 1 column 1: unknown field `x`\n\
                                 .github/owp.yml: claim.ttl_days must be between 1 and 365 (found 0)",
            VOUCH_ERRORS_FIELD: ["o/r/VOUCHED.td: 1 line(s) are not valid entries and are not applied (line 2: `- zed`)"],
            SETTINGS_FIELD: config.in_force(),
        }));
        let text = format!("{}{}", errors_lines(&p), in_force_lines(&p));
        insta::assert_snapshot!(text);
        for key in crate::github::repo_config::SETTING_KEYS {
            let name = key.rsplit('.').next().unwrap();
            assert!(text.contains(&format!("{name} ")), "{key}: {text}");
        }
        let bare = policy(serde_json::json!({}));
        assert_eq!(errors_lines(&bare) + &in_force_lines(&bare), "");
    }
}
