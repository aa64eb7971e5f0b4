//! The `owp-conformance` command: the runner of `owp conformance` on its own, for anyone who checks
//! an OWP server without building the pool.

use std::process::Command;

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
    let cases = owp_conformance::cases::all();
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
