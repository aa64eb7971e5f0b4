//! The MCP tools' arguments, answers and refusals.

use super::*;
use crate::cli::client::{Auth, error_from_response};
use reqwest::Method;

#[test]
fn wait_seconds_is_bounded() {
    assert_eq!(check_wait(None), Ok(0));
    assert_eq!(check_wait(Some(0)), Ok(0));
    assert_eq!(check_wait(Some(30)), Ok(30));
    assert!(
        check_wait(Some(31))
            .unwrap_err()
            .0
            .contains("between 0 and 30")
    );
    assert!(check_wait(Some(-1)).is_err());
}

#[test]
fn ids_are_checked() {
    assert_eq!(check_id("lease_id", " l_01H9-x ").unwrap(), "l_01H9-x");
    assert!(check_id("lease_id", "").unwrap_err().0.contains("empty"));
    assert!(check_id("lease_id", "../x").is_err());
    assert!(check_id("lease_id", "..").is_err());
    assert!(check_id("lease_id", "a b").is_err());
    assert!(
        check_id("task_id", &"a".repeat(MAX_ID_LEN + 1))
            .unwrap_err()
            .0
            .contains("longer than 128")
    );
    assert!(check_id("task_id", &"a".repeat(MAX_ID_LEN)).is_ok());
}

#[test]
fn texts_are_bounded() {
    assert_eq!(check_text("reason", None), Ok(None));
    assert_eq!(check_text("reason", Some("   ")), Ok(None));
    assert_eq!(
        check_text("reason", Some(" too big \n")),
        Ok(Some("too big".into()))
    );
    assert!(check_text("reason", Some(&"x".repeat(MAX_TEXT_LEN + 1))).is_err());
    assert!(check_text("note", Some("a\u{7}b")).is_err());
}

fn report(status: &str, pr_url: Option<&str>, note: Option<&str>) -> ReportParams {
    ReportParams {
        task_id: "t_1".into(),
        status: status.into(),
        pr_url: pr_url.map(String::from),
        note: note.map(String::from),
        disclosure: None,
    }
}

#[test]
fn a_disclosure_is_checked_as_the_artifact_wants_it() {
    let with = |tool: &str, model: Option<&str>| {
        let mut params = report("pr_opened", Some("https://x.test/pull/1"), None);
        params.disclosure = Some(DisclosureParams {
            tool: tool.into(),
            model: model.map(String::from),
        });
        check_report(&params).map(|(_, _, artifact, _)| artifact.unwrap())
    };
    assert_eq!(
        with(" claude-code ", Some("opus")).unwrap()["disclosure"],
        json!({"tool": "claude-code", "model": "opus"})
    );
    assert_eq!(
        with("none", Some(" ")).unwrap()["disclosure"],
        json!({"tool": "none"})
    );
    for (tool, model, says) in [
        ("", None, "disclosure.tool must name the tool"),
        (
            "\u{200b}\u{3164}",
            None,
            "disclosure.tool must name the tool",
        ),
        (
            "a\u{1b}[2J",
            None,
            "disclosure.tool contains control characters",
        ),
        ("a", Some("\u{200d}"), "disclosure.model shows nothing"),
    ] {
        let err = with(tool, model).unwrap_err();
        assert!(err.0.contains(says), "{tool:?}: {err:?}");
    }
    let long = "x".repeat(101);
    assert!(with(&long, None).unwrap_err().0.contains("longer than 100"));
    assert!(
        with("a", Some(&long))
            .unwrap_err()
            .0
            .contains("disclosure.model is longer")
    );
}

#[test]
fn reports_are_checked() {
    let (task, status, artifact, note) = check_report(&report(
        "pr_opened",
        Some("https://github.com/o/r/pull/7"),
        Some("done"),
    ))
    .unwrap();
    assert_eq!((task.as_str(), status), ("t_1", "pr_opened"));
    assert_eq!(
        artifact,
        Some(json!({"pr_url": "https://github.com/o/r/pull/7"}))
    );
    assert_eq!(note.as_deref(), Some("done"));

    let err = check_report(&report("pr_opened", None, None)).unwrap_err();
    assert!(err.0.contains("needs pr_url"), "{err:?}");
    let err = check_report(&report("pr_opened", Some("ftp://x/y"), None)).unwrap_err();
    assert!(err.0.contains("http or https"), "{err:?}");
    let err = check_report(&report("pr_opened", Some("not a url"), None)).unwrap_err();
    assert!(err.0.contains("is not a URL"), "{err:?}");
    let long = format!("https://x.test/{}", "a".repeat(MAX_URL_LEN));
    assert!(check_report(&report("pr_opened", Some(&long), None)).is_err());
    let err = check_report(&report("merged", None, None)).unwrap_err();
    assert!(err.0.contains("a maintainer or GitHub decides"), "{err:?}");
    assert!(check_report(&report("done", None, None)).is_err());
    let (_, status, artifact, note) =
        check_report(&report("blocked", None, Some("needs a design decision"))).unwrap();
    assert_eq!(status, "blocked");
    assert_eq!(artifact, None);
    assert_eq!(note.as_deref(), Some("needs a design decision"));
}

#[test]
fn refusals_show_the_problem_code_and_detail() {
    let body = r#"{"title":"Conflict","status":409,"detail":"the lease has ended","code":"lease_not_held"}"#;
    let e = error_from_response(409, Auth::Worker, &Method::POST, "/v1/leases/l/ack", body);
    let line = explain("owp_ack", &e, Some("alice"));
    assert_eq!(
        line,
        "owp_ack failed: the OWP server refused it (HTTP 409): Conflict: the lease has ended (lease_not_held); the lease has ended: call owp_claim for new work"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn a_wrong_token_says_register_again() {
    let body =
        r#"{"title":"Unauthorized","status":401,"detail":"unknown token","code":"unauthorized"}"#;
    let e = error_from_response(401, Auth::Worker, &Method::POST, "/v1/work", body);
    let line = explain("owp_claim", &e, Some("alice"));
    assert!(line.starts_with("owp_claim failed: the OWP server refused this worker's token (401)"));
    assert!(line.contains("unknown token (unauthorized)"), "{line}");
    assert!(
        line.contains("owp worker register --profile alice"),
        "{line}"
    );
}

#[test]
fn an_unreachable_server_is_one_line() {
    let e = ClientError::Unreachable {
        base_url: "http://127.0.0.1:9".into(),
    };
    assert_eq!(
        explain("owp_current", &e, None),
        "owp_current failed: cannot reach the OWP server at http://127.0.0.1:9 (is `owp serve` running?)"
    );
    // A long, multi-line server answer stays one bounded line.
    let e = error_from_response(
        500,
        Auth::Worker,
        &Method::GET,
        "/v1/workers/me",
        &"oops\n".repeat(400),
    );
    let line = explain("owp_current", &e, None);
    assert!(!line.contains('\n') && line.chars().count() <= MAX_ERROR_LEN);
}

#[test]
fn brief_uris_round_trip() {
    assert_eq!(brief_uri("t_1"), "owp://tasks/t_1/brief");
    assert_eq!(
        task_id_of_uri("owp://tasks/t_1/brief").as_deref(),
        Some("t_1")
    );
    assert_eq!(task_id_of_uri("owp://tasks/../brief"), None);
    assert_eq!(task_id_of_uri("owp://tasks/t_1"), None);
    assert_eq!(task_id_of_uri("file:///etc/passwd"), None);
}

#[test]
fn every_tool_is_listed_with_a_bounded_schema() {
    let service = OwpMcp::new(Profile::Unusable("no profile".into()), None);
    let tools = service.tool_router.list_all();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for want in [
        "owp_ack",
        "owp_brief",
        "owp_claim",
        "owp_current",
        "owp_nack",
        "owp_renew",
        "owp_report",
        "owp_task",
        "owp_why",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let claim = tools.iter().find(|t| t.name == "owp_claim").unwrap();
    let wait = &claim.input_schema["properties"]["wait_seconds"];
    assert_eq!(wait["maximum"], json!(30), "{wait}");
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        let a = tool.annotations.clone().unwrap_or_default();
        (a.read_only_hint, a.destructive_hint)
    };
    assert_eq!(hints("owp_claim"), (Some(false), Some(false)));
    assert_eq!(hints("owp_nack").1, Some(true));
    assert_eq!(hints("owp_current").0, Some(true));
    assert_eq!(hints("owp_task").0, Some(true));
    let report = tools.iter().find(|t| t.name == "owp_report").unwrap();
    let required = report.input_schema["required"].as_array().unwrap();
    assert!(required.contains(&json!("task_id")) && required.contains(&json!("status")));
}

#[test]
fn arguments_that_do_not_fit_name_the_field() {
    let args = |v: Value| v.as_object().cloned();
    let why = argument_error("owp_claim", args(json!({"wait_seconds": "soon"})).as_ref());
    assert_eq!(
        why.as_deref(),
        Some("wait_seconds: invalid type: string \"soon\", expected i64")
    );
    assert_eq!(argument_error("owp_claim", None), None);
    assert_eq!(argument_error("owp_current", None), None);
    let why = argument_error("owp_ack", args(json!({})).as_ref()).unwrap();
    assert!(why.contains("missing field `lease_id`"), "{why}");
    let why = argument_error(
        "owp_nack",
        args(json!({"lease_id": "l", "why": "x"})).as_ref(),
    )
    .unwrap();
    assert!(why.contains("unknown field `why`"), "{why}");
    let why = argument_error(
        "owp_report",
        args(json!({"task_id": 7, "status": "blocked"})).as_ref(),
    )
    .unwrap();
    assert!(why.starts_with("task_id: invalid type"), "{why}");
}

#[test]
fn plans_are_checked_before_they_are_sent() {
    assert_eq!(
        check_plan("  Add a test, then fix it.\n"),
        Ok("Add a test, then fix it.".into())
    );
    assert_eq!(check_plan(&"x".repeat(4_000)).map(|p| p.len()), Ok(4_000));
    let long = check_plan(&"x".repeat(4_001)).unwrap_err().0;
    assert!(long.contains("longer than 4000"), "{long}");
    assert!(check_plan(" \n ").unwrap_err().0.contains("empty"));
    assert!(check_plan("a\u{1b}[2Jb").unwrap_err().0.contains("control"));
    let args = |v: Value| v.as_object().cloned();
    let why = argument_error("owp_propose", args(json!({"task_id": "t_1"})).as_ref()).unwrap();
    assert!(why.contains("missing field `plan`"), "{why}");
    let why = argument_error("owp_task", args(json!({"task": "t_1"})).as_ref()).unwrap();
    assert!(why.contains("unknown field `task`"), "{why}");
    let why = argument_error("owp_task", args(json!({})).as_ref()).unwrap();
    assert!(why.contains("missing field `task_id`"), "{why}");
    let why = argument_error("owp_proposals", args(json!({"task": "t_1"})).as_ref()).unwrap();
    assert!(why.contains("unknown field `task`"), "{why}");
}

#[test]
fn command_line() {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from([
        "owp",
        "mcp",
        "--profile",
        "alice",
        "--log-file",
        "mcp.log",
    ])
    .unwrap();
    let crate::cli::Command::Mcp(args) = cli.command else {
        panic!("expected mcp")
    };
    assert_eq!(args.profile.as_deref(), Some("alice"));
    assert_eq!(args.log_file, Some(PathBuf::from("mcp.log")));
    assert!(crate::cli::Cli::try_parse_from(["owp", "mcp", "--wait", "3"]).is_err());
}

#[tokio::test]
async fn calls_are_paced() {
    let slot = tokio::sync::Mutex::new(None);
    let gap = Duration::from_millis(40);
    let started = Instant::now();
    futures_util::future::join_all((0..5).map(|_| pace(&slot, gap))).await;
    // The first starts at once, each of the other four waits its gap.
    assert!(started.elapsed() >= gap * 4, "{:?}", started.elapsed());
}

#[tokio::test]
async fn without_a_profile_every_tool_explains() {
    let service = OwpMcp::new(
        Profile::Unusable("no worker registered under profile x".into()),
        Some("x".into()),
    );
    let result = service.owp_claim(Parameters(ClaimParams::default())).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        first_text(&result),
        "owp_claim failed: no worker registered under profile x"
    );
    // Input is checked first.
    let result = service
        .owp_claim(Parameters(ClaimParams {
            wait_seconds: Some(99),
        }))
        .await;
    assert!(first_text(&result).contains("invalid input: wait_seconds"));
}
