//! `docs/github-app.md`'s "Recipe: plans first, end to end", run as a maintainer follows it: its
//! `.github/owp.yml` and `VOUCHED.td` blocks are pushed to the fake GitHub, the proposal comment
//! is made there, and each of its ` ```bash ` commands runs as written by `bash -c`, with the built
//! `owp` first on `PATH` and only these changes: the service is the test's (`OWP_SERVER`, the
//! operator's `OWP_ADMIN_TOKEN`), the repository and issue are the story's (`acme/web` and `#12`
//! become them), and `PROPOSAL_ID` is the id the listing printed just before.

#![cfg(unix)]

use std::path::Path;

use crate::docs_github_app::{PLANS_FIRST_RECIPE, bash_blocks};
use crate::github_support::story::{ADMIN, REPO, Story};
use crate::github_vouch::push_file;

/// The recipe's text, up to the next heading.
fn recipe() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/github-app.md"))
            .unwrap();
    let (_, after) = doc
        .split_once(PLANS_FIRST_RECIPE)
        .expect("the recipe in docs/github-app.md");
    after[..after.find("\n#").unwrap_or(after.len())].to_string()
}

/// The text of the recipe's first ` ```LANG ` block, without the list's indentation.
fn block(recipe: &str, lang: &str) -> String {
    let fence = format!("```{lang}");
    let mut lines = recipe.lines().skip_while(|l| l.trim() != fence);
    let open = lines.next().unwrap_or_else(|| panic!("a {fence} block"));
    let indent = open.len() - open.trim_start().len();
    let mut text = String::new();
    for line in lines.take_while(|l| l.trim() != "```") {
        text.push_str(line.get(indent..).unwrap_or("").trim_end());
        text.push('\n');
    }
    text
}

/// Runs one command of the recipe as written (but for the changes the module names).
async fn run(command: &str, story: &Story, home: &Path) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_owp")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new("bash")
        .args(["-o", "pipefail", "-c", command])
        .current_dir(home)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("OWP_CONFIG_DIR", home.join("owp"))
        .env("OWP_SERVER", story.url())
        .env("OWP_ADMIN_TOKEN", ADMIN)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "`{command}` failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plans_first_recipe_runs_as_written() {
    let recipe = recipe();
    let blocks = bash_blocks(&recipe);
    let [state, approve] = blocks.as_slice() else {
        panic!("the recipe's bash blocks: the state, the approval: {blocks:?}");
    };
    let home = tempfile::tempdir().unwrap();
    // GitHub has an account of each reviewer the recipe names.
    let story = Story::among(false, &["hubot", "mona"], None, |_| {}).await;

    // 1. The settings file and the vouch list, committed to the default branch.
    push_file(&story, ".github/owp.yml", &block(&recipe, "yaml")).await;
    push_file(&story, "VOUCHED.td", &block(&recipe, "text")).await;

    // 2. Each setting took effect.
    let [command] = state.as_slice() else {
        panic!("one command: {state:?}")
    };
    let shown = run(&command.replace("acme/web", REPO), &story, home.path()).await;
    for part in [
        "plan first",
        "first timers: good first issue",
        "cool-down 24 h",
        "verified commits",
        "vouched people only",
        &format!("reviewers of {REPO}: hubot 0/1, mona 0/2"),
        &format!("  {REPO} settings in force (.github/owp.yml):\n"),
        "    contract: setup none · test npm test",
        "disclosure required",
    ] {
        assert!(shown.contains(part), "{part:?} is not in:\n{shown}");
    }
    assert!(
        !shown.contains("its settings file is not used") && !shown.contains("VOUCHED.td"),
        "no settings error: {shown}"
    );

    // 3. An issue in the pool; alice proposes by comment.
    let n = story.label_issue("Dates off by one", &[]).await;
    story.expect_status(n, &["this repository takes a plan first"]);
    story.comment(n, "alice", &block(&recipe, "markdown")).await;
    story.expect_comment(n, "your plan is in");
    story.expect_status(n, &["**Plans proposed** (1)", "`alice`", "vouched: yes"]);

    // 4. Approved from the terminal.
    let mut proposal = String::new();
    for command in approve {
        let command = command
            .replace("acme/web#12", &format!("{REPO}#{n}"))
            .replace("acme/web", REPO)
            .replace("PROPOSAL_ID", &proposal);
        let out = run(&command, &story, home.path()).await;
        if let Some(id) = out
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|w| w.starts_with("p_") && w.len() > 10)
        {
            proposal = id.to_string();
        }
    }
    assert!(!proposal.is_empty(), "the listing named no proposal");
    story.settle().await;
    story.expect_comment(n, "your plan is approved");
    story.expect_status(n, &["alice"]);
    let task = story.task(n).await;
    assert_eq!(task.status, owp::domain::TaskStatus::InProgress, "{task:?}");
}
