//! Parsing of webhook deliveries, event by event.

use super::*;
use serde_json::json;

fn user(login: &str, kind: &str) -> Value {
    json!({"login": login, "id": 1, "type": kind})
}

fn issue_payload(action: &str) -> Value {
    json!({
        "action": action,
        "issue": {
            "number": 7, "title": "Fix it", "body": null, "state": "open",
            "labels": [{"name": "pool:ready"}, {"name": "estimate:2"}],
            "user": user("alice", "User"),
            "html_url": "https://github.com/o/r/issues/7"
        },
        "repository": {"id": 5, "full_name": "o/r", "default_branch": "main"},
        "sender": user("alice", "User"),
        "installation": {"id": 99}
    })
}

fn parse(event: &str, payload: &Value) -> Event {
    parse_event(event, payload.to_string().as_bytes()).unwrap()
}

#[test]
fn minimal_issue_event() {
    let Event::Issue(e) = parse("issues", &issue_payload("opened")) else {
        panic!()
    };
    assert_eq!(e.action, IssueAction::Opened);
    assert_eq!(e.installation_id, Some(99));
    assert_eq!(e.repo.full_name, "o/r");
    assert_eq!(e.issue.body, "");
    assert_eq!(e.issue.labels, ["pool:ready", "estimate:2"]);
    assert!(e.issue.open && !e.issue.is_pull_request);
}

#[test]
fn nul_characters_become_replacement_characters() {
    let mut payload = issue_payload("opened");
    payload["issue"]["title"] = json!("Fix\u{0}it");
    payload["issue"]["body"] = json!("\u{0}");
    payload["issue"]["labels"][0]["name"] = json!("area:\u{0}x");
    payload["issue"]["extra"] = json!({"k\u{0}": "v"});
    let body = payload.to_string();
    assert!(body.contains("\\u0000"), "{body}");
    let Event::Issue(e) = parse_event("issues", body.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(e.issue.title, "Fix\u{FFFD}it");
    assert_eq!(e.issue.body, "\u{FFFD}");
    assert_eq!(e.issue.labels[0], "area:\u{FFFD}x");
    let mut value = json!({"a\u{0}": ["b\u{0}", {"c": "\u{0}\u{0}"}], "n": 1});
    replace_nul(&mut value);
    assert_eq!(
        value,
        json!({"a\u{FFFD}": ["b\u{FFFD}", {"c": "\u{FFFD}\u{FFFD}"}], "n": 1})
    );
}

#[test]
fn unknown_action_is_ignored_not_an_error() {
    let event = parse("issues", &issue_payload("typed"));
    assert_eq!(
        event,
        Event::Ignored {
            event: "issues".into(),
            action: Some("typed".into()),
            reason: "action `typed` of `issues` is not used".into(),
        }
    );
}

#[test]
fn unknown_event_is_ignored() {
    let event = parse_event("star", br#"{"action":"created"}"#).unwrap();
    assert!(
        matches!(event, Event::Ignored { ref reason, .. } if reason == "`star` events are not used")
    );
    let event = parse_event("fork", br#"{"forkee":{}}"#).unwrap();
    assert!(matches!(event, Event::Ignored { action: None, .. }));
}

#[test]
fn a_push_matters_only_when_it_changes_a_vouch_list_on_the_default_branch() {
    let push = |git_ref: &str, changed: &str| {
        let body = serde_json::json!({
            "ref": git_ref,
            "repository": {"id": 1, "full_name": "o/r", "default_branch": "main"},
            "commits": [{"added": [], "removed": [], "modified": ["src/lib.rs"]},
                        {"added": [changed], "removed": [], "modified": []}],
            "head_commit": null,
            "sender": {"login": "ada", "id": 2},
            "installation": {"id": 3},
        });
        parse_event("push", body.to_string().as_bytes()).unwrap()
    };
    assert!(matches!(
        push("refs/heads/main", "VOUCHED.td"),
        Event::VouchListPushed(PushEvent {
            installation_id: Some(3),
            ..
        })
    ));
    assert!(matches!(
        push("refs/heads/main", ".github/VOUCHED.td"),
        Event::VouchListPushed(PushEvent { lists: true, .. })
    ));
    assert!(matches!(
        push("refs/heads/main", ".github/owp.yml"),
        Event::VouchListPushed(PushEvent { lists: false, .. })
    ));
    for (git_ref, changed) in [
        ("refs/heads/feature", "VOUCHED.td"),
        ("refs/heads/main", "docs/VOUCHED.td"),
        ("refs/tags/v1", "VOUCHED.td"),
        ("refs/heads/feature", ".github/owp.yml"),
        ("refs/heads/main", "owp.yml"),
    ] {
        assert!(
            matches!(push(git_ref, changed), Event::Ignored { .. }),
            "{git_ref} {changed}"
        );
    }
}

#[test]
fn unused_action_is_ignored_even_when_its_payload_is_odd() {
    // Actions we skip are not read further, so their shape cannot fail the delivery.
    let event = parse_event("installation", br#"{"action":"new_permissions_accepted"}"#);
    assert!(matches!(event, Ok(Event::Ignored { .. })));
    let event = parse_event("issue_comment", br#"{"action":"deleted"}"#);
    assert!(matches!(event, Ok(Event::Ignored { .. })));
    let event = parse_event("issues", br#"{"action":"typed"}"#);
    assert!(matches!(event, Ok(Event::Ignored { .. })));
    let event = parse_event("pull_request", br#"{"action":"labeled"}"#);
    assert!(matches!(event, Ok(Event::Ignored { .. })));
}

#[test]
fn not_json_is_an_error() {
    assert!(matches!(
        parse_event("issues", b"not json"),
        Err(EventError::InvalidJson(_))
    ));
}

#[test]
fn used_action_missing_fields_is_malformed() {
    let err = parse_event("issues", br#"{"action":"opened"}"#).unwrap_err();
    assert!(
        matches!(&err, EventError::Malformed { event, action, .. } if event == "issues" && action == "opened"),
        "{err:?}"
    );
}

#[test]
fn bot_senders() {
    let mut p = issue_payload("opened");
    p["sender"] = user("owp-pool[bot]", "Bot");
    let Event::Issue(e) = parse("issues", &p) else {
        panic!()
    };
    assert!(e.sender.is_bot());
    assert_eq!(e.sender.kind, ActorKind::Bot);
    let odd = Actor {
        login: "someone[bot]".into(),
        id: 1,
        kind: ActorKind::Other,
    };
    assert!(odd.is_bot());
}

#[test]
fn issue_comment_on_a_pull_request_is_marked() {
    let mut p = issue_payload("created");
    p["issue"]["pull_request"] = json!({"url": "https://api.github.com/repos/o/r/pulls/7"});
    p["comment"] = json!({
        "id": 3, "body": "/owp claim", "user": user("bob", "User"),
        "html_url": "https://github.com/o/r/pull/7#issuecomment-3",
        "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
    });
    let Event::IssueComment(e) = parse("issue_comment", &p) else {
        panic!()
    };
    assert!(e.issue.is_pull_request);
    assert_eq!(e.comment.body, "/owp claim");
    assert_eq!(e.action, CommentAction::Created);
    assert_eq!(e.sender.login, "alice");
}

#[test]
fn accessors() {
    let event = parse("issues", &issue_payload("closed"));
    assert_eq!(event.installation_id(), Some(99));
    assert_eq!(event.repo(), Some("o/r"));
    assert_eq!(event.sender().map(|a| a.login.as_str()), Some("alice"));
}

fn repo() -> serde_json::Value {
    serde_json::json!({"id": 1, "full_name": "o/r", "private": false})
}

fn checks(event: &str, body: serde_json::Value) -> ChecksEvent {
    match parse_event(event, body.to_string().as_bytes()).unwrap() {
        Event::Checks(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_suites_runs_and_statuses_become_one_state_each() {
    let suite = |status: &str, conclusion: serde_json::Value| {
        checks(
            "check_suite",
            serde_json::json!({"action": "completed", "repository": repo(),
                "check_suite": {"id": 5, "head_sha": "abc", "status": status,
                                "conclusion": conclusion}}),
        )
    };
    let done = suite("completed", "success".into());
    assert_eq!((done.sha.as_str(), done.check.as_str()), ("abc", "suite:5"));
    assert_eq!(done.state, CheckState::Success);
    assert_eq!(
        suite("completed", "neutral".into()).state,
        CheckState::Success
    );
    assert_eq!(
        suite("completed", "timed_out".into()).state,
        CheckState::Failure
    );
    assert_eq!(
        suite("completed", "cancelled".into()).state,
        CheckState::Failure
    );
    assert_eq!(
        suite("queued", serde_json::Value::Null).state,
        CheckState::Pending
    );
    let run = checks(
        "check_run",
        serde_json::json!({"action": "created", "repository": repo(),
            "check_run": {"id": 9, "head_sha": "abc", "status": "in_progress", "conclusion": null}}),
    );
    assert_eq!(
        (run.check.as_str(), run.state),
        ("run:9", CheckState::Pending)
    );
    for (state, want) in [
        ("error", CheckState::Failure),
        ("failure", CheckState::Failure),
        ("pending", CheckState::Pending),
        ("success", CheckState::Success),
    ] {
        let s = checks(
            "status",
            serde_json::json!({"sha": "abc", "state": state, "context": "ci", "repository": repo()}),
        );
        assert_eq!((s.check.as_str(), s.state), ("status:ci", want));
    }
    // A check suite without the suite, or an action the App does not use, is ignored.
    let other = parse_event(
        "check_suite",
        br#"{"action":"completed","repository":{"id":1,"full_name":"o/r"}}"#,
    )
    .unwrap();
    assert!(matches!(other, Event::Ignored { .. }));
    let other = parse_event("check_run", br#"{"action":"requested_action"}"#).unwrap();
    assert!(matches!(other, Event::Ignored { .. }));
}
