//! Every real webhook payload in `tests/fixtures/github/` parses into the event we expect, and
//! verifies when signed as GitHub signs it.

use std::path::{Path, PathBuf};

use owp::github::events::{Event, IssueAction, PullRequestAction, USED_ACTIONS, parse_event};
use owp::github::signature::{WebhookSecrets, sign};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github")
}

/// `(fixture name, X-GitHub-Event)` for every payload file.
fn fixtures() -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".json")?.to_string();
            let event = stem.split('.').next().unwrap().to_string();
            Some((stem, event))
        })
        .collect();
    names.sort();
    names
}

fn load(stem: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("{stem}.json"))).unwrap()
}

fn parse_fixture(stem: &str) -> Event {
    let event = stem.split('.').next().unwrap();
    parse_event(event, &load(stem)).unwrap_or_else(|e| panic!("{stem}: {e:?}"))
}

#[test]
fn every_fixture_parses_into_its_snapshot() {
    let fixtures = fixtures();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(fixtures_dir().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (stem, _) in &fixtures {
            insta::assert_debug_snapshot!(stem.as_str(), parse_fixture(stem));
        }
    });
}

fn variant(event: &Event) -> &'static str {
    match event {
        Event::Ping { .. } => "Ping",
        Event::Installation(_) => "Installation",
        Event::InstallationRepositories(_) => "InstallationRepositories",
        Event::Issue(_) => "Issue",
        Event::IssueComment(_) => "IssueComment",
        Event::PullRequest(_) => "PullRequest",
        Event::Checks(_) => "Checks",
        Event::Repository(_) => "Repository",
        Event::IssueDependency(_) => "IssueDependency",
        Event::VouchListPushed(_) => "VouchListPushed",
        Event::Ignored { .. } => "Ignored",
    }
}

#[test]
fn each_fixture_is_the_expected_variant() {
    let expected = [
        ("installation.created", "Installation"),
        ("installation.deleted", "Installation"),
        ("installation.suspend", "Installation"),
        ("installation.unsuspend", "Installation"),
        (
            "installation_repositories.added",
            "InstallationRepositories",
        ),
        (
            "installation_repositories.removed",
            "InstallationRepositories",
        ),
        ("issue_comment.created", "IssueComment"),
        ("issue_comment.deleted", "Ignored"),
        ("issue_comment.edited", "IssueComment"),
        (
            "issue_dependencies.blocked_by_added.derived",
            "IssueDependency",
        ),
        (
            "issue_dependencies.blocked_by_removed.derived",
            "IssueDependency",
        ),
        (
            "issue_dependencies.blocking_added.derived",
            "IssueDependency",
        ),
        (
            "issue_dependencies.blocking_removed.derived",
            "IssueDependency",
        ),
        ("issues.assigned", "Ignored"),
        ("issues.closed.derived", "Issue"),
        ("issues.deleted", "Issue"),
        ("issues.edited", "Issue"),
        ("issues.labeled", "Issue"),
        ("issues.opened", "Issue"),
        ("issues.reopened", "Issue"),
        ("issues.transferred", "Issue"),
        ("issues.unlabeled", "Issue"),
        ("ping", "Ping"),
        ("ping.organization", "Ping"),
        ("pull_request.closed", "PullRequest"),
        ("pull_request.closed.merged.derived", "PullRequest"),
        ("pull_request.converted_to_draft", "PullRequest"),
        ("pull_request.edited.derived", "PullRequest"),
        ("pull_request.opened", "PullRequest"),
        ("pull_request.ready_for_review", "PullRequest"),
        ("pull_request.reopened", "PullRequest"),
        ("pull_request.synchronize", "PullRequest"),
        ("repository.archived.derived", "Repository"),
        ("repository.deleted.derived", "Repository"),
        ("repository.unarchived.derived", "Repository"),
    ];
    let stems: Vec<String> = fixtures().into_iter().map(|(stem, _)| stem).collect();
    let listed: Vec<String> = expected.iter().map(|(stem, _)| stem.to_string()).collect();
    assert_eq!(
        stems, listed,
        "every fixture is listed here, and only those"
    );
    for (stem, want) in expected {
        assert_eq!(variant(&parse_fixture(stem)), want, "{stem}");
    }
}

#[test]
fn actions_of_the_main_fixtures() {
    let issue_action = |stem: &str| match parse_fixture(stem) {
        Event::Issue(e) => e.action,
        other => panic!("{other:?}"),
    };
    assert_eq!(issue_action("issues.opened"), IssueAction::Opened);
    assert_eq!(issue_action("issues.closed.derived"), IssueAction::Closed);
    assert_eq!(issue_action("issues.reopened"), IssueAction::Reopened);
    assert_eq!(issue_action("issues.deleted"), IssueAction::Deleted);
    assert_eq!(
        issue_action("issues.labeled"),
        IssueAction::Labeled {
            label: Some("bug".into())
        }
    );
    assert!(matches!(
        issue_action("issues.transferred"),
        IssueAction::Transferred {
            new_repo: Some(_),
            new_repo_id: Some(_),
            new_number: Some(_)
        }
    ));

    let pr = |stem: &str| match parse_fixture(stem) {
        Event::PullRequest(e) => e,
        other => panic!("{other:?}"),
    };
    let merged = pr("pull_request.closed.merged.derived");
    assert_eq!(merged.action, PullRequestAction::Closed);
    assert!(merged.pull_request.merged && !merged.pull_request.open);
    let closed = pr("pull_request.closed");
    assert!(!closed.pull_request.merged);
    let edited = pr("pull_request.edited.derived");
    assert_eq!(edited.pull_request.body, "Fixes #1");
    assert!(matches!(
        edited.action,
        PullRequestAction::Edited {
            previous_body: Some(_)
        }
    ));
}

#[test]
fn fixtures_verify_when_signed_like_github() {
    let secrets = WebhookSecrets::parse("fixture-secret").unwrap();
    for (stem, _) in fixtures() {
        let body = load(&stem);
        let header = sign(b"fixture-secret", &body);
        assert_eq!(secrets.verify(Some(&header), &body), Ok(()), "{stem}");
        let mut forged = body.clone();
        forged.push(b' ');
        assert!(secrets.verify(Some(&header), &forged).is_err(), "{stem}");
    }
}

/// `examples/EVENT.ACTION.N.json`: every upstream example of the events and actions the App uses.
fn examples() -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<(String, String, Option<String>)> =
        std::fs::read_dir(fixtures_dir().join("examples"))
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                let stem = name.strip_suffix(".json")?.to_string();
                let parts: Vec<&str> = stem.split('.').collect();
                let action = (parts.len() == 3).then(|| parts[1].to_string());
                Some((stem.clone(), parts[0].to_string(), action))
            })
            .collect();
    out.sort();
    out
}

#[test]
fn every_upstream_example_of_a_used_action_parses_into_its_event() {
    let examples = examples();
    for (stem, event, action) in &examples {
        let body =
            std::fs::read(fixtures_dir().join("examples").join(format!("{stem}.json"))).unwrap();
        let parsed = parse_event(event, &body).unwrap_or_else(|e| panic!("{stem}: {e:?}"));
        let want = match event.as_str() {
            "ping" => "Ping",
            "installation" => "Installation",
            "installation_repositories" => "InstallationRepositories",
            "issues" => "Issue",
            "issue_comment" => "IssueComment",
            "pull_request" => "PullRequest",
            "check_suite" | "check_run" | "status" => "Checks",
            "repository" => "Repository",
            "issue_dependencies" => "IssueDependency",
            other => panic!("{stem}: an event the App does not use: {other}"),
        };
        assert_eq!(variant(&parsed), want, "{stem} ({action:?})");
    }
    // Every used action has an upstream example, or (where the package has none) a payload
    // derived from a neighbour among the main fixtures.
    let derived: Vec<String> = fixtures()
        .into_iter()
        .map(|(stem, _)| stem)
        .filter(|stem| stem.ends_with(".derived"))
        .collect();
    for (event, actions) in USED_ACTIONS {
        for action in actions {
            let upstream = examples
                .iter()
                .any(|(_, e, a)| e == event && a.as_deref() == Some(action));
            let prefix = format!("{event}.{action}.");
            let derived = derived.iter().any(|stem| stem.starts_with(&prefix));
            assert!(
                upstream || derived,
                "no example payload for {event}.{action}"
            );
        }
    }
}
