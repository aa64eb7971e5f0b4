//! The dashboard's repository card in headless Chromium shows every setting of `.github/owp.yml`
//! in force, folded under "Settings", and above it each line of the file and of `VOUCHED.td` that
//! was not understood. Skips when Chromium is not installed (see `dashboard_browser`).

#![cfg(unix)]

use std::time::Duration;

use crate::dashboard_browser::{Browser, repo_line};
use crate::github_support::story::{ADMIN, REPO, Story};
use crate::github_vouch::push_file;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repository_card_shows_every_setting_and_every_error() {
    let Some(browser) = Browser::launch("dashboard_browser_settings").await else {
        return;
    };
    let story = Story::with(
        Some("claim:\n  approval: plan\n  cooldown_hours: 24\nvouch:\n  required: true\n"),
        |_| {},
    )
    .await;
    push_file(
        &story,
        ".github/owp.yml",
        "claim:\n  approval: plan\n  cooldown: 24\nmax_open_pr: 2\n",
    )
    .await;
    push_file(&story, "VOUCHED.td", "alice\n- zed\n").await;
    let base = story.url();
    let mut page = browser.new_page().await;
    page.sign_in(&base, ADMIN).await;
    let card = repo_line(REPO);
    let shown = page
        .wait_for(
            "every setting on the card",
            &format!(
                "(() => {{ const dd = [...({card}?.querySelectorAll('.repo-settings dd') || [])]; \
                 return dd.length ? dd.map(d => d.dataset.setting + '=' + d.textContent) : null; }})()"
            ),
            Duration::from_secs(15),
        )
        .await;
    let shown: Vec<String> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut keys: Vec<&str> = shown.iter().map(|s| s.split('=').next().unwrap()).collect();
    keys.sort_unstable();
    let mut expected = owp::github::repo_config::SETTING_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "one line per setting");
    for setting in [
        "claim.approval=plan",
        "claim.cooldown_hours=24",
        "vouch.required=true",
        "claim.first_timers_label=none",
        "review.reviewers={}",
        "max_open_prs=3",
    ] {
        assert!(shown.iter().any(|s| s == setting), "{setting}: {shown:?}");
    }
    let warnings = page
        .eval(&format!(
            "[...({card}?.querySelectorAll('.repo-warn') || [])].map(p => p.textContent)"
        ))
        .await;
    let warnings: Vec<&str> = warnings
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let settings = warnings
        .iter()
        .find(|w| w.starts_with("Its settings file is not used"))
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(
        settings.contains("line 3 column 3: claim: unknown field `cooldown`"),
        "{settings}"
    );
    assert!(
        settings.contains("line 4 column 1: unknown field `max_open_pr`"),
        "{settings}"
    );
    let problems = page
        .eval(&format!(
            "{card}.querySelectorAll('.settings-errors li').length"
        ))
        .await;
    assert_eq!(problems, 2);
    assert!(
        warnings.iter().any(
            |w| w.starts_with(&format!("{REPO}/VOUCHED.td: 1 line(s)")) && w.contains("line 2")
        ),
        "{warnings:?}"
    );
}
