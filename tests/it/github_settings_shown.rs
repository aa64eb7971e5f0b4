//! Settings you can see: every setting of `.github/owp.yml` in force is shown where maintainers
//! look (`GET /v1/admin/state`, `owp admin state`), and every line of the file or of `VOUCHED.td`
//! that was not understood is an error shown there and on the status comment of each unfinished
//! task as soon as a push changes the file (one write per task, none for a push that changes
//! nothing shown).

use serde_json::{Value, json};

use crate::github_labels::{admin_state, repo_state};
use crate::github_support::story::{REPO, Story};
use crate::github_vouch::{push_file, push_file_applied};

/// Plans first, a vouch list that is required, reviewers, first timers, a cool-down and verified
/// commits.
const GOOD: &str = "\
claim:
  approval: plan
  first_timers_label: good first issue
  cooldown_hours: 24
  verified_commits: required
vouch:
  required: true
  trust: 2
review:
  reviewers:
    rita: 2
contract:
  test: cargo test
  disclosure: required
";

/// Four lines that are not understood, and a value out of range.
const BROKEN: &str = "\
claim:
  approval: plan
  cooldown: 24
vouch:
  required: maybe
max_open_pr: 2
review:
  reviewers:
    rita: 50
";

/// Comment edits written to GitHub so far (here: the one status comment's).
fn status_edits(story: &Story) -> usize {
    story.fake.count_calls("PATCH", "/issues/comments/")
}

async fn settings_story(postgres: bool) {
    let story = Story::among(postgres, &["rita"], Some(GOOD), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.expect_status(n, &["**Ready**"]);

    // Every setting, in force, in the admin state and in `owp admin state`.
    let repo = repo_state(&story).await;
    let settings = &repo["x_github_settings"];
    for key in owp::github::repo_config::SETTING_KEYS {
        assert!(
            settings.get(key).is_some(),
            "{key} is not shown: {settings}"
        );
    }
    assert_eq!(settings["claim.approval"], "plan");
    assert_eq!(settings["claim.first_timers_label"], "good first issue");
    assert_eq!(settings["claim.cooldown_hours"], 24);
    assert_eq!(settings["claim.verified_commits"], "required");
    assert_eq!(settings["vouch.required"], true);
    assert_eq!(settings["vouch.trust"], 2);
    assert_eq!(settings["review.reviewers"], json!({"rita": 2}));
    assert_eq!(settings["contract.disclosure"], "required");
    assert_eq!(
        settings["max_open_prs"], 3,
        "the budget in force: the default"
    );
    assert_eq!(settings["claim.ttl_days"], 7, "a default is shown too");
    assert_eq!(repo["x_github_vouch_errors"], json!([]));
    assert_eq!(repo["x_github_config_error"], Value::Null);
    let text = admin_state(&story).await;
    for line in [
        &format!("  {REPO} settings in force (.github/owp.yml):\n"),
        "    max_open_prs 3 · pr_hourly_limit none · who_may_claim anyone · max_claims_per_user 2\n",
        "    claim: ttl_days 7 · reminder true · min_account_age_days 0 · verified_commits required",
        "first_timers_label good first issue · cooldown_hours 24 · approval plan",
        "    vouch: trust 2 · required true · import []\n",
        "    review: reviewers {\"rita\":2}\n",
    ] {
        assert!(text.contains(line), "{line:?} is not in:\n{text}");
    }

    // A broken file pushed: nothing else happens on the issue, yet its status comment says at
    // once what was not understood, line by line; the last good settings stay in force.
    let edits = status_edits(&story);
    push_file(&story, ".github/owp.yml", BROKEN).await;
    assert_eq!(
        status_edits(&story),
        edits + 1,
        "one edit of the one status comment"
    );
    let status = story.expect_status(
        n,
        &[
            "The repository's settings file could not be used, so the last good settings apply. \
             Each line that was not understood:",
            "> - .github/owp.yml line 3 column 3: claim: unknown field `cooldown`",
            "line 5",
            "line 6 column 1: unknown field `max_open_pr`",
            "review.reviewers.rita must be between 1 and 20",
        ],
    );
    crate::reviewed::check(
        "comments",
        "status_after_a_broken_settings_file",
        &status.body,
        "The status comment once a push brought a broken .github/owp.yml.",
    );
    let repo = repo_state(&story).await;
    let error = repo["x_github_config_error"].as_str().unwrap_or_default();
    assert_eq!(error.lines().count(), 4, "{error}");
    assert_eq!(repo["x_github_settings"]["claim.cooldown_hours"], 24);
    let text = admin_state(&story).await;
    assert!(
        text.contains(&format!(
            "  ! {REPO}: its settings file is not used; the last good settings stay in force. \
             Each line that was not understood:\n      .github/owp.yml line 3 column 3: claim: \
             unknown field `cooldown`"
        )),
        "{text}"
    );
    assert!(text.contains("cooldown_hours 24"), "{text}");

    // The same broken file pushed again: nothing shown changes, nothing is written.
    push_file(&story, ".github/owp.yml", &format!("{BROKEN}# again\n")).await;
    assert_eq!(status_edits(&story), edits + 1);

    // A vouch list with a line that is not an entry: shown on the status comment at once, in the
    // admin state and by `owp admin state`.
    push_file(&story, "VOUCHED.td", "alice\n- zed\n").await;
    assert_eq!(status_edits(&story), edits + 2, "one more edit");
    story.expect_status(
        n,
        &[
            "Each line that was not understood:",
            &format!(
                "> [!WARNING]\n> A vouch list is not wholly applied: {REPO}/VOUCHED.td: 1 line(s) \
                 are not valid entries and are not applied (line 2: `-` must be followed by a \
                 handle, with no space between)"
            ),
        ],
    );
    let repo = repo_state(&story).await;
    let vouch_errors = repo["x_github_vouch_errors"].as_array().unwrap();
    assert_eq!(vouch_errors.len(), 1, "{repo}");
    let vouch_error = vouch_errors[0].as_str().unwrap();
    assert!(
        vouch_error.starts_with(&format!(
            "{REPO}/VOUCHED.td: 1 line(s) are not valid entries"
        )),
        "{vouch_error}"
    );
    assert!(vouch_error.contains("line 2"), "{vouch_error}");
    let text = admin_state(&story).await;
    assert!(text.contains(&format!("  ! {vouch_error}\n")), "{text}");

    // The file mended: its warning leaves the status comment at once; the list's stays.
    push_file(&story, ".github/owp.yml", GOOD).await;
    let status = story.expect_status(n, &["**Ready**", "A vouch list is not wholly applied"]);
    assert!(
        !status.body.contains("could not be used"),
        "{}",
        status.body
    );
    let repo = repo_state(&story).await;
    assert_eq!(repo["x_github_config_error"], Value::Null);
}

#[tokio::test]
async fn every_setting_and_every_error_is_shown_sqlite() {
    settings_story(false).await;
}

#[tokio::test]
async fn every_setting_and_every_error_is_shown_postgres() {
    settings_story(true).await;
}

/// A repository that pushes a broken settings file again and again, each time another, costs
/// each open task's status comment about one write, not one a push: the requests of a task join
/// while one is pending.
async fn pushes_in_a_burst(postgres: bool) {
    let story = Story::among(postgres, &["rita"], Some(GOOD), |c| {
        c.github.github_status_window_ms = Some(10_000);
    })
    .await;
    let issues = [
        story.label_issue("One", &[]).await,
        story.label_issue("Two", &[]).await,
        story.label_issue("Three", &[]).await,
    ];
    story.settle().await;
    for n in issues {
        story.expect_status(n, &["**Ready**"]);
    }
    let edits = status_edits(&story);
    let started = std::time::Instant::now();
    const PUSHES: usize = 20;
    for i in 0..PUSHES {
        push_file_applied(
            &story,
            ".github/owp.yml",
            &format!("max_open_prs: {i}\ncolour{i}: blue\n"),
        )
        .await;
    }
    let burst = started.elapsed();
    story.settle().await;
    let written = status_edits(&story) - edits;
    println!(
        "{PUSHES} pushes of a broken file in {burst:?}: {written} status comment edits for 3 tasks"
    );
    assert!(
        burst > std::time::Duration::from_secs(10) || written <= issues.len(),
        "{written} edits"
    );
    // Each task's edits are joined within a 10-second window, so a burst that lasted longer
    // (a busy machine) may write once more per window it spanned.
    let windows = 2 + burst.as_secs() as usize / 10;
    assert!(
        written <= windows * issues.len(),
        "{written} edits for {PUSHES} pushes in {burst:?}"
    );
    for n in issues {
        story.expect_status(n, &[&format!("unknown field `colour{}`", PUSHES - 1)]);
    }
}

#[tokio::test]
async fn a_burst_of_broken_files_costs_each_task_one_edit_sqlite() {
    pushes_in_a_burst(false).await;
}

#[tokio::test]
async fn a_burst_of_broken_files_costs_each_task_one_edit_postgres() {
    pushes_in_a_burst(true).await;
}
