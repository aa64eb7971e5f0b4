//! `owp demo` as a person runs it: one command, no configuration. The narration must tell the
//! whole story within a short run: leases, the budget or an area lock holding work back, the
//! silenced worker's lease expiring, and merges.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_demo_tells_the_whole_story_in_twenty_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.args(["demo", "--duration", "20", "--port", "0"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // No configuration: nothing from the caller's environment may matter.
    for (key, _) in std::env::vars() {
        if key.starts_with("OWP_") || key.starts_with("GITHUB_") {
            cmd.env_remove(key);
        }
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn owp demo");
    let out = child.wait_with_output().expect("owp demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(out.status.success(), "exit {}\n{report}", out.status);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the demo stopped by itself after --duration"
    );

    // The sign-in that works, and where to look.
    assert!(stdout.contains("Dashboard  http://127.0.0.1:"), "{report}");
    assert!(stdout.contains("admin token: owpa_"), "{report}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colours when stdout is not a terminal"
    );

    // Narration lines are `HH:MM:SS  tag  sentence`.
    let lines: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|l| {
            let rest = l.get(10..)?;
            let clock = l.get(..8)?;
            if clock.as_bytes()[2] != b':' || clock.as_bytes()[5] != b':' {
                return None;
            }
            let (tag, text) = rest.split_once("  ")?;
            Some((tag.trim(), text.trim()))
        })
        .collect();
    let told = |tag: &str, needle: &str| {
        lines
            .iter()
            .any(|(t, text)| *t == tag && text.contains(needle))
    };
    assert!(told("join", "joined: skills"), "workers join\n{report}");
    assert!(told("lease", "was offered"), "a lease\n{report}");
    assert!(
        told("budget", "is full") || told("lock", "area lock"),
        "the budget or an area lock holds work back\n{report}"
    );
    assert!(
        told("pr", "opened a pull request"),
        "a pull request\n{report}"
    );
    assert!(told("merge", "merged"), "a merge\n{report}");
    assert!(
        told("demo", "went to sleep"),
        "a worker is silenced\n{report}"
    );
    assert!(told("offline", "is offline"), "it goes offline\n{report}");
    assert!(
        told("expiry", "expired without a heartbeat"),
        "its lease expires and requeues\n{report}"
    );
    assert!(
        told("demo", "Demo over after"),
        "a closing summary\n{report}"
    );
    // Every worker and task it introduced is accounted for: who can take what at the start,
    // where each stands at the end.
    let workers = ["ada", "grace", "linus", "margaret"];
    for name in workers {
        assert!(
            lines.iter().any(|(t, text)| *t == "join"
                && text.starts_with(&format!("{name} ("))
                && text.contains("can take")),
            "{name}'s tasks at the start\n{report}"
        );
        assert!(
            lines.iter().any(|(t, text)| *t == "worker"
                && text.starts_with(&format!("{name}: "))
                && text.contains("lease")),
            "what {name} did, at the end\n{report}"
        );
    }
    for n in 1..=14 {
        let key = format!("DEMO-{n} ");
        let told: Vec<&str> = lines
            .iter()
            .filter(|(t, text)| *t == "task" && text.starts_with(&key))
            .map(|(_, text)| *text)
            .collect();
        assert_eq!(told.len(), 1, "where {key}stands at the end\n{report}");
        assert!(
            [
                "merged:",
                "in review:",
                "still in progress",
                "still waits",
                "blocked"
            ]
            .iter()
            .any(|fate| told[0].contains(fate)),
            "{}\n{report}",
            told[0]
        );
    }
    // The temporary database is gone with the demo.
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the demo leaves nothing in the working directory"
    );
}
