//! The `owp-conformance` command: the runner of `owp conformance` on its own, for anyone who checks
//! an OWP server without building the pool; and, at the end, the library's own functions (the
//! crate has no unit tests: its library is compiled once, not again with a test harness).

use std::collections::BTreeSet;
use std::process::Command;

use owp_conformance::closed_pipe::{CLOSED_PIPE_CODES, is_closed_pipe_panic};
use owp_conformance::{admin_token_for, cases, read_expected};

fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_owp-conformance"));
    // No token from this machine's environment or env files decides what the command does.
    command
        .env_remove("OWP_ADMIN_TOKEN")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

#[test]
fn the_command_lists_every_case_of_the_library() {
    let out = command().arg("--list").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let cases = cases::all();
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    assert!(names.len() > 50, "{names:?}");
    assert_eq!(listed, names);
}

#[test]
fn a_server_that_does_not_answer_fails_the_command_in_one_line() {
    // A port nothing listens on: one the system gave, then closed again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = command()
        .args([url.as_str(), "--admin-token", "some-token"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("is not answering"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn without_a_url_the_command_says_what_it_needs() {
    let out = command().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<URL>"), "{err}");
}

/// `owp-conformance --list | head -1`: a reader that goes away ends the command quietly, with
/// success, instead of a panic (status 101 and a backtrace). The pipe's reader is closed before
/// the command starts, so its first line meets it closed.
#[test]
fn a_closed_pipe_ends_the_list_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = command()
        .arg("--list")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

// The library.

#[test]
fn a_token_from_the_env_files_goes_only_to_a_server_on_this_machine() {
    let file = || Some("from-env-local".to_string());
    for local in [
        "http://127.0.0.1:8787",
        "http://localhost:8787/",
        "http://[::1]:8787",
        "http://127.5.0.1",
    ] {
        assert_eq!(
            admin_token_for(local, None, file).as_deref(),
            Some("from-env-local"),
            "{local}"
        );
    }
    for remote in [
        "https://pool.example.org",
        "http://10.0.0.5:8787",
        "http://localhost.example.org",
        "http://127.0.0.1.example.org",
        "not a url",
    ] {
        assert_eq!(admin_token_for(remote, None, file), None, "{remote}");
    }
    // A token given by flag or environment goes where the person sends it.
    assert_eq!(
        admin_token_for("https://pool.example.org", Some("given".into()), file).as_deref(),
        Some("given")
    );
    assert_eq!(
        admin_token_for("http://127.0.0.1:1", Some(" ".into()), file).as_deref(),
        Some("from-env-local")
    );
}

/// The runner is a client of the protocol only: its crate depends on no crate of the service
/// (so the compiler keeps every file of it from naming the service's internals), and nothing
/// of the service can decide a verdict.
#[test]
fn the_runner_imports_nothing_of_the_service() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(manifest).unwrap();
    let mut section = String::new();
    let mut names = vec![];
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if section.ends_with("dependencies]")
            && !line.starts_with('#')
            && let Some((name, spec)) = line.split_once('=')
        {
            let name = name.trim();
            let local = spec.contains("path") || spec.contains("git");
            assert!(
                name == "owp-protocol" || !(local || name.starts_with("owp")),
                "the runner depends on `{line}`"
            );
            names.push(name.to_string());
        }
    }
    assert!(names.iter().any(|n| n == "reqwest"), "{names:?}");
    for service in ["sqlx", "rusqlite", "axum", "octocrab", "owp"] {
        assert!(!names.iter().any(|n| n == service), "{service}: {names:?}");
    }
}

#[test]
fn case_names_are_unique_and_well_formed() {
    let all = cases::all();
    let mut names = BTreeSet::new();
    for case in &all {
        assert!(names.insert(case.name), "two cases named {}", case.name);
        assert!(
            case.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'),
            "{}",
            case.name
        );
        assert!(case.name.contains('.'), "{}", case.name);
    }
}

#[test]
fn expected_failure_lists_ignore_comments_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.txt");
    std::fs::write(&path, "# known\nwire.a\n\n  rules.b  # why\n").unwrap();
    let set = read_expected(&path).unwrap();
    assert_eq!(
        set.into_iter().collect::<Vec<_>>(),
        vec!["rules.b", "wire.a"]
    );
}

#[test]
fn only_a_closed_pipe_ends_quietly() {
    let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
    let code = CLOSED_PIPE_CODES[0];
    let text = std::io::Error::from_raw_os_error(code).to_string();
    assert!(is_closed_pipe_panic(&format!(
        "failed printing to stdout: {text}"
    )));
    assert!(is_closed_pipe_panic(&format!(
        "failed printing to stderr: {text}"
    )));
    assert!(!is_closed_pipe_panic(&format!(
        "failed printing to stdout: {closed} x"
    )));
    assert!(!is_closed_pipe_panic(
        "failed printing to stdout: No space left on device (os error 28)"
    ));
    assert!(!is_closed_pipe_panic("index out of bounds"));
}
