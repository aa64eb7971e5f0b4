//! `owp admin vouched REPO`: a repository's merged vouch list (`GET /v1/admin/vouched`) printed
//! in the format of `VOUCHED.td`, so that a maintainer can commit it (the App never writes the
//! file).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::vouch::line_of;

/// The merged list of an answer of `GET /v1/admin/vouched`: one line per login, a denouncement
/// by any source winning over a vouch (an imported list's vouches are not kept), with the details
/// of the entry that decided it; headed by a comment naming the repository.
pub fn render_vouched(answer: &Value) -> String {
    let repo = answer["repo"].as_str().unwrap_or_default();
    // login → (denounced, details)
    let mut merged: BTreeMap<String, (bool, Option<String>)> = BTreeMap::new();
    for entry in answer["entries"].as_array().into_iter().flatten() {
        let Some(login) = entry["login"].as_str() else {
            continue;
        };
        let denounced = entry["denounced"].as_bool().unwrap_or(false);
        let vouched = entry["vouched"].as_bool().unwrap_or(false);
        if !denounced && !vouched {
            continue;
        }
        let details = entry["details"].as_str().map(str::to_string);
        match merged.get_mut(login) {
            Some(kept) if denounced && !kept.0 => *kept = (true, details),
            Some(_) => {}
            None => {
                merged.insert(login.to_string(), (denounced, details));
            }
        }
    }
    let mut text = format!(
        "# Vouch list of {repo}, merged by OWP Pool from its VOUCHED.td, the denouncements of \
         the lists it imports and its maintainers' commands.\n# Commit it as VOUCHED.td to keep \
         it.\n"
    );
    for (login, (denounced, details)) in &merged {
        text.push_str(&line_of(login, *denounced, details.as_deref()));
        text.push('\n');
    }
    for error in answer["errors"].as_array().into_iter().flatten() {
        if let Some(error) = error.as_str() {
            text.push_str(&format!("# Not applied: {}\n", error.replace('\n', " ")));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denouncement_wins_and_lines_are_sorted() {
        let answer = serde_json::json!({"repo": "o/r", "entries": [
            {"login": "zed", "vouched": true, "denounced": false, "source": "file"},
            {"login": "amy", "vouched": true, "denounced": false, "source": "command"},
            {"login": "amy", "vouched": false, "denounced": true, "details": "spam", "source": "import"},
        ], "errors": []});
        let text = render_vouched(&answer);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["-github:amy spam", "github:zed"]);
        assert!(text.starts_with("# Vouch list of o/r"));
    }
}
