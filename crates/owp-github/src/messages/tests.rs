//! Every message of the App, as GitHub shows it.

use super::*;
use crate::domain::markers::{find_comment_marker, find_status_marker};
use chrono::TimeZone;

const HELP: &str = "https://owp.example.org/docs/github";

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, h, 30, 0).unwrap()
}

pub(super) fn view(status: TaskStatus) -> StatusView {
    StatusView {
        task_id: "tsk_01JD".into(),
        status,
        holder: None,
        since: None,
        until: None,
        pr_url: None,
        reason: None,
        blocked_by: None,
        estimate_points: 3,
        priority: Priority::High,
        required_skills: vec!["rust".into(), "sql".into()],
        area: Some("scheduler".into()),
        tier: 0,
        budget: Budget {
            open_prs: 1,
            active_leases: 0,
            max_open_prs: 3,
            full: false,
        },
        label_warnings: vec![],
        config_error: None,
        other_prs: vec![],
        checks: None,
        help_url: HELP.into(),
        waiting_on: vec![],
        path_holds: vec![],
        made_with: None,
        disclosure_missing: false,
        evidence: None,
        commits: None,
        reviewer: None,
        proposals: Vec::new(),
        plan_first: false,
    }
}

fn alice() -> Holder {
    Holder::Person {
        login: "alice".into(),
    }
}

// --- markers ----------------------------------------------------------------------------

#[test]
fn status_marker_round_trip() {
    let body = status_comment(&view(TaskStatus::Ready));
    assert!(body.starts_with("<!-- owp:status task=tsk_01JD -->\n"));
    assert_eq!(find_status_marker(&body), Some("tsk_01JD"));
    assert_eq!(find_status_marker("plain comment"), None);
    assert_eq!(find_status_marker("<!-- owp:status task= -->"), None);
}

#[test]
fn comment_marker_round_trip() {
    let body = with_comment_marker("hello\n", "outbox-42");
    assert_eq!(body, "hello\n\n<!-- owp:comment id=outbox-42 -->");
    assert_eq!(find_comment_marker(&body), Some("outbox-42"));
    assert_eq!(find_status_marker(&body), None);
}

#[test]
fn neutralize_defuses_mentions_links_and_html() {
    assert_eq!(
        neutralize("ping @team\nsee #5 <img src=x>"),
        "ping @\u{200B}team see #\u{200B}5 &lt;img src=x&gt;"
    );
}

#[test]
fn neutralize_defuses_images_links_and_bare_urls_but_keeps_code_spans() {
    assert_eq!(
        neutralize("![x](https://e.example/a.png) [y](http://e) www.e.com"),
        "\\!\\[x\\](https:\u{200B}//e.example/a.png) \\[y\\](http:\u{200B}//e) www\u{200B}.e.com"
    );
    assert_eq!(
        neutralize("labels `a` and `![b](c)` disagree"),
        "labels `a` and `![b](c)` disagree"
    );
    assert_eq!(neutralize("one ` tick *x*"), "one \\` tick \\*x\\*");
    assert_eq!(
        neutralize(&"a".repeat(5000)).chars().count(),
        MAX_QUOTED_CHARS + 1
    );
}

#[test]
fn long_comments_are_cut_to_what_github_accepts() {
    let long = format!("```\n{}\n", "x\n".repeat(40_000));
    let fit = fit_comment(&long, COMMENT_LIMIT);
    assert!(fit.chars().count() <= COMMENT_LIMIT);
    assert_eq!(fit.matches("```").count() % 2, 0, "the fence is closed");
    assert!(fit.ends_with("too long for a comment)_"));
    let marked = with_comment_marker(&"y".repeat(70_000), "abc");
    assert!(marked.chars().count() <= COMMENT_LIMIT);
    assert_eq!(find_comment_marker(&marked), Some("abc"));
    assert_eq!(fit_comment("short", COMMENT_LIMIT), "short");
}

#[test]
fn budget_figures() {
    let b = Budget {
        open_prs: 2,
        active_leases: 1,
        max_open_prs: 3,
        full: true,
    };
    assert_eq!(b.used(), 3);
    assert_eq!(b.summary(), "3 of 3 review slots used");
}

// --- status comment snapshots -----------------------------------------------------------

#[test]
fn status_ready() {
    insta::assert_snapshot!(status_comment(&view(TaskStatus::Ready)));
}

/// A ready task's view, waiting on `blockers` and on work in flight on `holds` (rule 10).
fn waiting(blockers: &[&str], holds: &[(&str, &str)]) -> StatusView {
    let mut v = view(TaskStatus::Ready);
    v.waiting_on = blockers.iter().map(|b| b.to_string()).collect();
    v.path_holds = holds
        .iter()
        .map(|(k, p)| (k.to_string(), p.to_string()))
        .collect();
    v
}

#[test]
fn status_waiting_on_paths() {
    let v = waiting(
        &[],
        &[
            ("#12", "src/auth/login.rs"),
            ("#12", "src/auth/**"),
            ("owner/other#3", "docs/*.md"),
        ],
    );
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_waiting_on_issues_and_paths() {
    let v = waiting(&["#7"], &[("#12", "src/auth/**"), ("#14", "**")]);
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn a_path_held_by_a_strangers_file_name_stays_code() {
    // A pull request's file names are a stranger's text: quoted as code, never markup.
    let v = waiting(&[], &[("#12", "x`@everyone <!-- <b>b</b> --> `.rs")]);
    let line = status_comment(&v)
        .lines()
        .find(|l| l.starts_with("**Waiting:**"))
        .unwrap()
        .to_string();
    assert_eq!(
        line,
        "**Waiting:** #12 is changing `x'@everyone <!- - <b>b</b> --> '.rs` — it can be \
         claimed once that work is merged, closed or given back."
    );
}

#[test]
fn status_offered_to_a_worker() {
    let mut v = view(TaskStatus::Leased);
    v.holder = Some(Holder::Worker {
        name: "ci-bot-7".into(),
        login: Some("carol".into()),
    });
    v.since = Some(at(10));
    v.until = Some(at(11));
    v.budget.active_leases = 1;
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_in_progress() {
    let mut v = view(TaskStatus::InProgress);
    v.holder = Some(alice());
    v.since = Some(at(10));
    v.until = Some(at(10) + chrono::TimeDelta::days(7));
    v.budget = Budget {
        open_prs: 2,
        active_leases: 1,
        max_open_prs: 3,
        full: true,
    };
    v.tier = 1;
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_pr_opened() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_pr_opened_with_its_tool_disclosed() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(Holder::Worker {
        name: "night-owl".into(),
        login: Some("alice".into()),
    });
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.made_with = Some("claude (opus `4` @bob)".into());
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_pr_opened_without_a_required_disclosure() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.disclosure_missing = true;
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_pr_opened_shows_the_contributors_evidence() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.evidence = crate::domain::evidence::checked(&serde_json::json!({
        "head_sha": "0123456789abcdef0123456789abcdef01234567",
        "commands": [
            {"name": "test", "command": "cargo test", "exit_code": 0, "seconds": 12.4},
            {"name": "lint", "command": "cargo clippy `@bob` <!-- x", "exit_code": 101, "seconds": 3}
        ]
    }))
    .unwrap()
    .map(|e| e.shown());
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_pr_opened_names_unverified_commits() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.checks = Some("success".into());
    v.commits = Some(Commits {
        verified: Some(false),
        unverified: vec!["abcdef0123456789abcdef0123456789abcdef01".into()],
        unverified_count: 7,
    });
    insta::assert_snapshot!(status_comment(&v));
    v.commits = Some(Commits {
        verified: Some(true),
        unverified: vec![],
        unverified_count: 0,
    });
    v.checks = None;
    assert!(
        status_comment(&v).contains("Every commit is verified — ready for review."),
        "{}",
        status_comment(&v)
    );
}

#[test]
fn status_pr_opened_with_commits_not_known_is_never_ready() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    for checks in [Some("success"), Some("pending"), Some("failure"), None] {
        v.checks = checks.map(str::to_string);
        v.commits = Some(Commits::not_known());
        let body = status_comment(&v);
        assert!(
            body.contains("Whether every commit is verified is not known yet"),
            "{body}"
        );
        assert!(!body.contains("ready for review."), "{body}");
    }
    let artifact = serde_json::json!({"commits": {"verified": null}});
    assert_eq!(
        Commits::of_artifact(Some(&artifact)),
        Some(Commits::not_known())
    );
}

#[test]
fn status_merged_credits_the_tool() {
    let mut v = view(TaskStatus::Merged);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.made_with = Some("aider".into());
    v.budget.open_prs = 0;
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_merged() {
    let mut v = view(TaskStatus::Merged);
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.budget.open_prs = 0;
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_blocked_with_warnings_and_config_error() {
    let mut v = view(TaskStatus::Blocked);
    v.reason = Some("waiting for @design-team, see #12".into());
    v.estimate_points = 1;
    v.required_skills = vec![];
    v.area = None;
    v.label_warnings = vec![
        "label `estimate:big` was ignored: expected a whole number of points from 1 to 1000".into(),
    ];
    v.config_error = Some(
        ".github/owp.yml line 2 column 1: unknown field `max_open_pr` (did you mean `max_open_prs`?)"
            .into(),
    );
    insta::assert_snapshot!(status_comment(&v));
}

#[test]
fn status_cancelled() {
    let mut v = view(TaskStatus::Cancelled);
    v.reason = Some("the pool:ready label was removed".into());
    insta::assert_snapshot!(status_comment(&v));
}

// --- refusals ---------------------------------------------------------------------------

#[test]
fn budget_refusal_matches_the_wording_volunteers_see() {
    let refusal = ClaimRefusal::ReviewBudgetFull(Budget {
        open_prs: 3,
        active_leases: 0,
        max_open_prs: 3,
        full: true,
    });
    assert_eq!(
        refusal_reason(&refusal),
        "review budget full: 3 of 3 PRs open — try again when one merges"
    );
    assert_eq!(
        claim_refused("bob", std::slice::from_ref(&refusal)),
        "@bob, you can't claim this issue right now: \
         review budget full: 3 of 3 PRs open — try again when one merges."
    );
}

#[test]
fn every_refusal_reason() {
    let refusals = [
        ClaimRefusal::NotATask {
            ready_label: "pool:ready".into(),
        },
        ClaimRefusal::AlreadyClaimed { holder: alice() },
        ClaimRefusal::AlreadyClaimed {
            holder: Holder::Worker {
                name: "ci-bot-7".into(),
                login: None,
            },
        },
        ClaimRefusal::AlreadyYours,
        ClaimRefusal::Blocked {
            reason: Some("needs @design".into()),
        },
        ClaimRefusal::Blocked { reason: None },
        ClaimRefusal::PrOpen {
            pr_url: Some("https://github.com/o/r/pull/2".into()),
        },
        ClaimRefusal::PrOpen { pr_url: None },
        ClaimRefusal::Merged,
        ClaimRefusal::ReviewBudgetFull(Budget {
            open_prs: 3,
            active_leases: 0,
            max_open_prs: 3,
            full: true,
        }),
        ClaimRefusal::ReviewBudgetFull(Budget {
            open_prs: 1,
            active_leases: 2,
            max_open_prs: 3,
            full: true,
        }),
        ClaimRefusal::AreaLocked {
            area: "api".into(),
            other_issue: Some(12),
        },
        ClaimRefusal::AreaLocked {
            area: "api".into(),
            other_issue: None,
        },
        ClaimRefusal::TierTooHigh {
            tier: 2,
            trust_level: 0,
        },
        ClaimRefusal::TierNotYetEarned {
            tier: 1,
            trust_level: 0,
            more_merged: 2,
            opted_in: true,
        },
        ClaimRefusal::TierNotYetEarned {
            tier: 1,
            trust_level: 0,
            more_merged: 1,
            opted_in: false,
        },
        ClaimRefusal::TierNotYetEarned {
            tier: 1,
            trust_level: 0,
            more_merged: 0,
            opted_in: false,
        },
        ClaimRefusal::TooManyClaims { active: 2, max: 2 },
        ClaimRefusal::CapacityExceeded {
            estimate_points: 5,
            active_points: 3,
            capacity_points: 6,
        },
        ClaimRefusal::MissingSkills {
            missing: vec!["rust".into(), "sql".into()],
        },
        ClaimRefusal::WorkersOnly,
        ClaimRefusal::NotOnAllowlist,
        ClaimRefusal::HourlyLimit {
            limit: 2,
            retry_at: at(11),
        },
        ClaimRefusal::RecentlyReleased { retry_at: at(11) },
        ClaimRefusal::AccountTooNew {
            min_days: 30,
            claim_from: at(11),
        },
        ClaimRefusal::WorkerPaused {
            worker: "ci-bot-7".into(),
        },
        ClaimRefusal::PathsHeld {
            by: vec![("#12".into(), "src/auth/login.rs".into())],
        },
        ClaimRefusal::PathsHeld {
            by: vec![
                ("#12".into(), "src/auth/**".into()),
                ("#14".into(), "docs/a.md".into()),
                ("#14".into(), "docs/b.md".into()),
            ],
        },
    ];
    let text: Vec<String> = refusals
        .iter()
        .map(|r| claim_refused("bob", std::slice::from_ref(r)))
        .collect();
    for line in &text {
        // One sentence each: a single full stop at the end, no line breaks.
        assert!(line.ends_with('.') && !line.contains('\n'), "{line}");
    }
    insta::assert_snapshot!(text.join("\n"));
}

// --- reminders, expiry, commands ----------------------------------------------------------

#[test]
fn reminder_and_expiry() {
    insta::assert_snapshot!(format!(
        "{}\n---\n{}\n---\n{}",
        claim_reminder("alice", at(10)),
        claim_expired("alice", 7),
        claim_expired("alice", 1)
    ));
}

#[test]
fn permission_refused_text() {
    assert_eq!(
        permission_refused("mallory", &Command::Block { reason: "x".into() }),
        "@mallory, only maintainers (people with write access or above) can use \
         `/owp block`, so I did nothing."
    );
}

#[test]
fn unknown_command_with_suggestion() {
    let e = CommandError::UnknownCommand {
        word: "clam".into(),
        did_you_mean: Some("claim"),
    };
    assert_eq!(
        command_error("bob", &e, HELP),
        "@bob, I don't know the command `/owp clam`. Did you mean `/owp claim`? \
         The commands are explained [here](https://owp.example.org/docs/github)."
    );
}

#[test]
fn every_command_error() {
    let errors = [
        CommandError::MissingCommand,
        CommandError::UnknownCommand {
            word: "deploy".into(),
            did_you_mean: None,
        },
        CommandError::MissingReason,
        CommandError::MissingLinkCode,
        CommandError::InvalidLinkCode {
            code: "ab;c".into(),
        },
        CommandError::UnexpectedArguments {
            command: "claim",
            arguments: "@octocat".into(),
        },
    ];
    let text: Vec<String> = errors
        .iter()
        .map(|e| command_error("bob", e, HELP))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn every_command_refusal() {
    let refusals = [
        CommandRefusal::NotHolder { command: "release" },
        CommandRefusal::NotHolder { command: "renew" },
        CommandRefusal::NotBlocked,
        CommandRefusal::NotBlockable {
            status: TaskStatus::PrOpened,
        },
        CommandRefusal::NotATask {
            ready_label: "pool:ready".into(),
        },
        CommandRefusal::UnknownLinkCode,
        CommandRefusal::WorkerLinkedElsewhere,
    ];
    let text: Vec<String> = refusals.iter().map(|r| command_refused("bob", r)).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn a_claim_refused_by_several_rules_names_them_all() {
    let text = claim_refused(
        "bob",
        &[
            ClaimRefusal::MissingSkills {
                missing: vec!["python".into()],
            },
            ClaimRefusal::ReviewBudgetFull(Budget {
                open_prs: 3,
                active_leases: 0,
                max_open_prs: 3,
                full: true,
            }),
            ClaimRefusal::Waiting {
                on: vec!["#12".into()],
            },
        ],
    );
    assert_eq!(text.lines().count(), 4, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_block_names_the_maintainer_who_made_it() {
    let mut v = view(TaskStatus::Blocked);
    v.reason = Some("needs a design".into());
    assert!(status_comment(&v).contains("**Blocked** by a maintainer: needs a design."));
    v.blocked_by = Some("mona".into());
    let text = status_comment(&v);
    assert!(
        text.contains("**Blocked** by maintainer `mona`: needs a design."),
        "{text}"
    );
}

#[test]
fn status_pr_opened_names_its_reviewer() {
    let mut v = view(TaskStatus::PrOpened);
    v.holder = Some(alice());
    v.pr_url = Some("https://github.com/octo-org/hello/pull/9".into());
    v.reviewer = Some("bob".into());
    insta::assert_snapshot!(status_comment(&v));
}
