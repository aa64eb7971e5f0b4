//! `owp worker why`: which ready tasks a claim would offer this worker now, and every rule that
//! keeps each of the others from it (`GET /v1/work/preview`).

use crate::cli::client::{Preview, PreviewRefusal, say};

use super::*;

pub(super) async fn why(args: CommonArgs) -> anyhow::Result<()> {
    let session = Session::load(&args)?;
    let preview = session.client.preview().await?;
    if session.json {
        say!("{}", serde_json::to_string_pretty(&preview)?);
        return Ok(());
    }
    for line in describe(&preview) {
        say!("{line}");
    }
    Ok(())
}

/// The preview in lines a person reads.
pub(crate) fn describe(preview: &Preview) -> Vec<String> {
    let hidden: u64 = preview
        .refused
        .iter()
        .map(|r| match r {
            PreviewRefusal::Hidden { hidden } => *hidden,
            PreviewRefusal::Task(_) => 0,
        })
        .sum();
    let shown = preview
        .refused
        .iter()
        .filter_map(|r| match r {
            PreviewRefusal::Task(t) => Some(t),
            PreviewRefusal::Hidden { .. } => None,
        })
        .collect::<Vec<_>>();
    let looked = preview.eligible.len() + shown.len() + usize::try_from(hidden).unwrap_or(0);
    let mut lines = Vec::new();
    if looked == 0 {
        lines.push("no task is ready in this pool now".to_string());
        return lines;
    }
    match preview.eligible.as_slice() {
        [] => lines.push(format!(
            "none of the {looked} ready tasks looked at would be offered to you now"
        )),
        [first, rest @ ..] => lines.push(format!(
            "{} ready task{} would be offered to you now; the next claim takes {first}",
            rest.len() + 1,
            if rest.is_empty() { "" } else { "s" },
        )),
    }
    for refused in shown {
        let name = match &refused.key {
            Some(key) => format!("{key} ({})", refused.task_id),
            None => refused.task_id.clone(),
        };
        lines.push(format!("{name}:"));
        for reason in &refused.reasons {
            lines.push(format!("  rule {}: {}", reason.rule, reason.detail));
        }
        if refused
            .reasons
            .iter()
            .any(|r| r.code == "approval_required")
        {
            lines.push(format!(
                "  to plan it: `owp worker run --agent \"COMMAND\"` asks your agent for a plan and proposes it; an AI tool over `owp mcp` reads it with owp_task {{task_id: \"{id}\"}} and proposes with owp_propose",
                id = refused.task_id
            ));
        }
    }
    if hidden > 0 {
        lines.push(format!(
            "{hidden} more ready task{} not shown: in a private repository, or above your trust level",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    lines
}
