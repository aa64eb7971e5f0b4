//! What people read, against reviewed snapshots: the App's comments at the end of every story
//! (`snapshots/comments/`) and what `owp` prints in the README's tour and the worker's stories
//! (`snapshots/cli/`). A change of wording fails the test with a diff; review it and accept it
//! with `INSTA_UPDATE=always cargo test --test it …` (or `cargo insta review`), and commit the
//! `.snap` files with the change.
//!
//! What differs from one run to the next (ids, ports, times, temporary directories) is replaced
//! by a placeholder before the comparison.

/// Placeholders for what changes from run to run, in the order they are applied.
const VOLATILE: &[(&str, &str)] = &[
    (
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    ),
    (r"\b([a-z])_[0-9a-f]{32}\b", "${1}_[id]"),
    (r"\b[0-9a-f]{32}\b", "[hex]"),
    (r"(127\.0\.0\.1|localhost):\d+", "[host]"),
    (r"--port \d+", "--port [port]"),
    (
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|\+00:00)?",
        "[time]",
    ),
    (r"\b\d{2}:\d{2}:\d{2}\b", "[clock]"),
    (r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]"),
    // `owp worker simulate` works a random while and makes up a pull request's number.
    (r"\b\d+\.\d+s\b", "[seconds]s"),
    (r"\b(just now|\d+[smhd] ago)\b", "[age]"),
    // A time still to come, counted from the moment the command ran.
    (r"\bin \d+[smhd]\b", "in [while]"),
    // A commit's id holds the time it was made.
    (r"(pushed \S+) \([0-9a-f]{7,40}\)", "${1} ([commit])"),
    (r"(example\.invalid/[^/\s]+/pull/)\d+", "${1}[n]"),
];

/// Checks `text` against the snapshot `name` of `kind` (`comments` or `cli`). A name checked
/// again in the same test (a story with several volunteers) gets `-2`, `-3`, … in that order.
pub fn check(kind: &str, name: &str, text: &str, what: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let name = {
        let mut seen = SEEN.lock().unwrap();
        // The test's own name, backend and all: one process may run both backends' stories.
        let test = std::thread::current()
            .name()
            .unwrap_or_default()
            .to_string();
        let key = format!("{test}/{kind}/{name}");
        let before = seen.iter().filter(|k| **k == key).count();
        seen.push(key);
        match before {
            0 => name.to_string(),
            n => format!("{name}-{}", n + 1),
        }
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/snapshots/{kind}")),
    );
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(what);
    for (pattern, replacement) in VOLATILE {
        settings.add_filter(pattern, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// The running test's name, without the backend it ran on: stories that run on both backends
/// share one snapshot, as both must print the same words. `None` off a test's thread.
pub fn test_name() -> Option<String> {
    let thread = std::thread::current();
    let test = thread.name()?.rsplit("::").next()?.to_string();
    if test == "main" {
        return None;
    }
    let name = ["_sqlite", "_postgres"]
        .iter()
        .find_map(|suffix| test.strip_suffix(suffix))
        .unwrap_or(&test);
    Some(name.to_string())
}
