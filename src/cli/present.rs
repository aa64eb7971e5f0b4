//! Presentation for the `owp` clients: one line at a time to a terminal that may be closed early
//! (`owp admin state | head`), server text made safe to print, times, tables.

use std::borrow::Cow;
use std::io::Write;

use chrono::{DateTime, Local, Utc};

/// Server text made safe for a terminal: control characters (ESC, BEL, carriage return, C1
/// controls, DEL) and the invisible bidirectional overrides are removed, so a title such as
/// `ESC]0;…BEL` or `ESC[2J` cannot retitle, clear or rewrite the volunteer's terminal. Line feeds
/// and tabs stay. Every line the `owp` clients print passes through here.
pub fn plain(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
    if text.chars().any(unsafe_char) {
        Cow::Owned(text.chars().filter(|&c| !unsafe_char(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Writes one line to stdout; a closed pipe ends the process with success.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    write_stdout(args, true);
}

/// Writes to stdout without a newline and flushes (for a prompt).
pub fn write_prompt(args: std::fmt::Arguments<'_>) {
    write_stdout(args, false);
}

/// Writes one line to stderr, made [`plain`]; a closed stderr is ignored.
pub fn write_err_line(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", plain(&text));
}

fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    let text = args.to_string();
    let mut out = std::io::stdout().lock();
    let result = out
        .write_all(plain(&text).as_bytes())
        .and_then(|_| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|_| out.flush());
    if let Err(e) = result
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// `true` for a GitHub `owner/name` repo key.
pub fn is_github_repo(repo: &str) -> bool {
    let Some((owner, name)) = repo.split_once('/') else {
        return false;
    };
    let ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('-')
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    ok(owner) && ok(name)
}

/// The issue page of a GitHub task key `owner/name#N`.
pub fn issue_link(key: &str) -> Option<String> {
    let (repo, number) = key.trim().rsplit_once('#')?;
    if !is_github_repo(repo)
        || number.is_empty()
        || number.starts_with('0')
        || !number.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(format!("https://github.com/{repo}/issues/{number}"))
}

fn parse(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A server timestamp as local wall-clock time (`14:03:27`), or the text itself if unreadable.
pub fn clock(ts: &str) -> String {
    match parse(ts) {
        Some(t) => t.with_timezone(&Local).format("%H:%M:%S").to_string(),
        None => ts.to_string(),
    }
}

/// The current local time, for log lines.
pub fn now_clock() -> String {
    Local::now().format("%H:%M:%S").to_string()
}

/// `45s`, `12m`, `3h`, `2d`.
pub fn span(seconds: i64) -> String {
    let s = seconds.abs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `in 29m` or `2m ago` relative to `now`.
pub fn relative(ts: &str, now: DateTime<Utc>) -> String {
    match parse(ts) {
        Some(t) => {
            let secs = (t - now).num_seconds();
            if secs >= 0 {
                format!("in {}", span(secs))
            } else {
                format!("{} ago", span(secs))
            }
        }
        None => ts.to_string(),
    }
}

/// `12s ago` for a past instant; `just now` for one within a second or two either side
/// (clocks of client and server differ a little).
pub fn ago(ts: &str, now: DateTime<Utc>) -> String {
    match parse(ts) {
        Some(t) => {
            let secs = (now - t).num_seconds();
            if secs < 2 {
                "just now".to_string()
            } else {
                format!("{} ago", span(secs))
            }
        }
        None => ts.to_string(),
    }
}

/// Cuts a text to `max` characters on one line.
pub fn clip(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Left-aligned columns, indented by two spaces, without trailing blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_keys_link_to_their_issue() {
        assert_eq!(
            issue_link("octo-org/hello.world#42").as_deref(),
            Some("https://github.com/octo-org/hello.world/issues/42")
        );
        assert_eq!(issue_link("DEMO-7"), None);
        assert_eq!(issue_link("demo#7"), None);
        assert_eq!(issue_link("a/b#"), None);
        assert_eq!(issue_link("a/b#07"), None);
        assert_eq!(issue_link("a/b#7x"), None);
        assert_eq!(issue_link("a/b/c#7"), None);
        assert_eq!(issue_link("../b#7"), None);
    }

    #[test]
    fn github_repos_are_owner_slash_name() {
        assert!(is_github_repo("rust-lang/rust"));
        assert!(!is_github_repo("demo"));
        assert!(!is_github_repo("-x/y"));
        assert!(!is_github_repo("a b/c"));
    }

    #[test]
    fn relative_times() {
        let now = DateTime::parse_from_rfc3339("2030-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(relative("2030-01-01T12:29:30Z", now), "in 29m");
        assert_eq!(relative("2030-01-01T11:59:15Z", now), "45s ago");
        assert_eq!(relative("2030-01-03T12:00:00Z", now), "in 2d");
        assert_eq!(relative("soon", now), "soon");
        assert_eq!(ago("2030-01-01T12:00:00.400Z", now), "just now");
        assert_eq!(ago("2030-01-01T11:58:00Z", now), "2m ago");
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "POINTS"],
            &[
                vec!["Alice".into(), "3/5".into()],
                vec!["Bob".into(), "".into()],
            ],
        );
        assert_eq!(t, "  NAME   POINTS\n  Alice  3/5\n  Bob");
    }

    #[test]
    fn server_text_loses_terminal_controls() {
        let hostile = "Fix \u{1b}]0;pwned\u{7}the \u{1b}[2Jbug\r\u{9b}31m\u{202E}txt.exe\u{7f}";
        assert_eq!(plain(hostile), "Fix ]0;pwnedthe [2Jbug31mtxt.exe");
        assert_eq!(plain("two\nlines\tand a tab"), "two\nlines\tand a tab");
        assert!(matches!(plain("ordinary “text” ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn clip_keeps_one_line() {
        assert_eq!(clip("a\nb  c", 10), "a b c");
        assert_eq!(clip("abcdefghijkl", 5), "abcd…");
    }
}
