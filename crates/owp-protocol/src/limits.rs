//! Bounds on everything a client sends: the longest texts, the largest lists and the range of
//! every number (docs/owp-spec.md, "Field limits and ranges"). A value beyond them is refused
//! (422) with the field named, before anything is stored, so that no stranger can fill the
//! database, the admin's state or a metric with one request.

use serde_json::{Map, Value};

/// The longest lease a server grants (`OWP_LEASE_TTL_SECONDS`, comment-claim TTLs): one week.
pub const MAX_LEASE_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// A worker's `name`.
pub const MAX_NAME_CHARS: usize = 100;
/// A worker's `github_login` (GitHub's own limit is 39).
pub const MAX_LOGIN_CHARS: usize = 100;
/// Skills of a worker, or `required_skills` of a task.
pub const MAX_SKILLS: usize = 50;
/// One skill.
pub const MAX_SKILL_CHARS: usize = 64;
/// A task's `title` (GitHub's own limit is 256).
pub const MAX_TITLE_CHARS: usize = 500;
/// A task's `description` (GitHub's limit for an issue body).
pub const MAX_DESCRIPTION_CHARS: usize = 65_536;
/// A task's `key`, `area`, a repository's `repo`.
pub const MAX_KEY_CHARS: usize = 200;
/// A `reason` (nack, admin status) or `note` (status report).
pub const MAX_REASON_CHARS: usize = 2_000;
/// A lease's progress line (`POST /v1/leases/{id}/renew {progress}`).
pub const MAX_PROGRESS_CHARS: usize = 200;
/// One `x_*` field, as JSON text.
pub const MAX_EXTENSION_BYTES: usize = 4_096;
/// All `x_*` fields of one object together, as JSON text.
pub const MAX_EXTENSIONS_BYTES: usize = 16_384;
/// A worker's `capabilities`, as JSON text.
pub const MAX_CAPABILITIES_BYTES: usize = 4_096;
/// A status report's `artifact`, as JSON text: room for the largest `evidence` (ten commands of
/// 500 characters each) beside the rest.
pub const MAX_ARTIFACT_BYTES: usize = 32_768;
/// A `pr_url`.
pub const MAX_URL_CHARS: usize = 2_000;
/// Tasks in one import (`POST /v1/admin/tasks`): an import is one transaction, and a bounded
/// one keeps every other write waiting for at most a fraction of a second.
pub const MAX_TASKS_PER_IMPORT: usize = 1_000;

/// Blockers of one task (`blocked_by`): enough for any real plan, and a bound on the work one
/// claim does to see whether a task still waits.
pub const MAX_BLOCKERS: usize = 50;

/// Entries of a task's `requires`.
pub const MAX_REQUIRES: usize = 16;
/// A capability name in `requires`: `[a-z0-9_.-]`, at most this long.
pub const MAX_CAPABILITY_NAME_CHARS: usize = 64;
/// A string value in `requires`.
pub const MAX_REQUIRE_VALUE_CHARS: usize = 200;

/// `capacity_points` of a worker.
pub const CAPACITY_POINTS: (i64, i64) = (1, 10_000);
/// `max_concurrent_tasks` of a worker.
pub const MAX_CONCURRENT_TASKS: (i64, i64) = (1, 1_000);
/// `estimate_points` of a task (as the `estimate:N` label allows).
pub const ESTIMATE_POINTS: (i64, i64) = (1, 1_000);
/// `tier` of a task and `trust_level` of a worker (as the `tier:N` label allows).
pub const TIER: (i64, i64) = (0, 1_000);
/// Rules in a repository's `promote` list.
pub const MAX_PROMOTE_RULES: usize = 10;
/// `merged` of a promotion rule.
pub const PROMOTE_MERGED: (i64, i64) = (1, 10_000);
/// `level` of a promotion rule (a trust level, as `tier:N` allows; 0 is everyone's already).
pub const PROMOTE_LEVEL: (i64, i64) = (1, 1_000);
/// `days` of a leaderboard.
pub const LEADERBOARD_DAYS: (i64, i64) = (1, 3_660);
/// Workers listed on a leaderboard.
pub const LEADERBOARD_ROWS: i64 = 100;
/// `max_open_prs` of a repository.
pub const MAX_OPEN_PRS: (i64, i64) = (0, 10_000);

/// A value out of its bounds: the problem's `code`, and a detail naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    pub code: &'static str,
    pub detail: String,
}

type Checked = Result<(), OutOfBounds>;

/// A task's `requires`: at most [`MAX_REQUIRES`] entries, each named by at most
/// [`MAX_CAPABILITY_NAME_CHARS`] characters of `[a-z0-9_.-]`, with a boolean, a number or a string
/// of at most [`MAX_REQUIRE_VALUE_CHARS`] characters.
pub fn requires(field: &str, value: &Map<String, Value>) -> Checked {
    let invalid = |detail: String| OutOfBounds {
        code: "invalid_requires",
        detail,
    };
    if value.len() > MAX_REQUIRES {
        return Err(OutOfBounds {
            code: "too_many_items",
            detail: format!(
                "`{field}` has {} entries; a task may require at most {MAX_REQUIRES}",
                value.len()
            ),
        });
    }
    for (name, v) in value {
        let good_name = !name.is_empty()
            && name.len() <= MAX_CAPABILITY_NAME_CHARS
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !good_name {
            return Err(invalid(format!(
                "`{field}`: a capability name is 1 to {MAX_CAPABILITY_NAME_CHARS} characters of \
                 a-z, 0-9, `_`, `.` and `-` (got {:?})",
                name.chars()
                    .take(MAX_CAPABILITY_NAME_CHARS + 1)
                    .collect::<String>()
            )));
        }
        match v {
            Value::Bool(_) | Value::Number(_) => {}
            Value::String(text) => {
                self::text(&format!("{field}.{name}"), text, MAX_REQUIRE_VALUE_CHARS)?
            }
            _ => {
                return Err(invalid(format!(
                    "`{field}.{name}` must be a boolean, a number or a string"
                )));
            }
        }
    }
    Ok(())
}

/// Which control characters a text field may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controls {
    /// One line (a title, a name, a key, a skill): none at all.
    None,
    /// Several lines (a description): tab, line feed and carriage return only.
    LineBreaks,
    /// Free text that may quote a tool's output (a reason, a note): anything but NUL, which
    /// PostgreSQL cannot store and SQLite can, so that both backends answer alike.
    AllButNul,
}

impl Controls {
    /// Whether `c` is refused: NUL always; with [`Controls::None`] and
    /// [`Controls::LineBreaks`], every C0 control (but the line breaks the latter keeps),
    /// DEL and every C1 control — the characters a terminal reads as escapes.
    pub fn refuses(self, c: char) -> bool {
        match self {
            _ if c == '\0' => true,
            Controls::AllButNul => false,
            Controls::LineBreaks if matches!(c, '\t' | '\n' | '\r') => false,
            Controls::None | Controls::LineBreaks => c.is_control(),
        }
    }
}

/// `field` is one line of at most `max` characters, without control characters (see
/// [`Controls::None`]).
pub fn text(field: &str, value: &str, max: usize) -> Checked {
    text_with(field, value, max, Controls::None)
}

/// `field` is at most `max` characters of several lines (see [`Controls::LineBreaks`]).
pub fn lines(field: &str, value: &str, max: usize) -> Checked {
    text_with(field, value, max, Controls::LineBreaks)
}

/// `field` is at most `max` characters without NUL (see [`Controls::AllButNul`]).
pub fn free_text(field: &str, value: &str, max: usize) -> Checked {
    text_with(field, value, max, Controls::AllButNul)
}

/// `field` is at most `max` characters long and holds no control character `controls` refuses
/// (`invalid_characters`, naming the character and where it is).
pub fn text_with(field: &str, value: &str, max: usize, controls: Controls) -> Checked {
    // Bytes bound characters from above: most values are short, and need no count.
    if value.len() > max && value.chars().count() > max {
        return Err(OutOfBounds {
            code: "field_too_long",
            detail: format!("`{field}` is longer than {max} characters"),
        });
    }
    if let Some((at, c)) = value
        .chars()
        .enumerate()
        .find(|&(_, c)| controls.refuses(c))
    {
        return Err(OutOfBounds {
            code: "invalid_characters",
            detail: format!(
                "`{field}` must not contain control characters (U+{:04X} at character {})",
                u32::from(c),
                at + 1
            ),
        });
    }
    Ok(())
}

/// `field`, if given, is one line of at most `max` characters (see [`text`]).
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Checked {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// `field`, if given, is free text of at most `max` characters (see [`free_text`]).
pub fn opt_free_text(field: &str, value: Option<&str>, max: usize) -> Checked {
    value.map_or(Ok(()), |v| free_text(field, v, max))
}

/// Whether `text` shows anything: a character that is not white space, a control character, nor
/// one that Unicode says to draw as nothing (its default-ignorable code points: zero-width
/// spaces and joiners, direction marks, variation selectors, tags, the Hangul fillers, …; and
/// the blank Braille pattern). A name of only such characters reads as no name.
pub fn has_visible(text: &str) -> bool {
    text.chars().any(|c| {
        !(c.is_whitespace()
            || c.is_control()
            || matches!(u32::from(c),
                0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5
                | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
                | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
                | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF))
    })
}

/// `text` without the control characters `controls` refuses: for text that comes from
/// elsewhere (GitHub's issue titles) and is taken as it is rather than refused.
pub fn strip_controls(text: &str, controls: Controls) -> String {
    if !text.chars().any(|c| controls.refuses(c)) {
        return text.to_string();
    }
    text.chars().filter(|&c| !controls.refuses(c)).collect()
}

/// `field` lies in `range` (inclusive); `code` is the field's own `invalid_…` code.
pub fn range(field: &str, code: &'static str, value: i64, (min, max): (i64, i64)) -> Checked {
    if value < min || value > max {
        return Err(OutOfBounds {
            code,
            detail: format!("`{field}` must be between {min} and {max} (got {value})"),
        });
    }
    Ok(())
}

/// A list of skills: at most [`MAX_SKILLS`], each at most [`MAX_SKILL_CHARS`].
pub fn skills<S: AsRef<str>>(field: &str, skills: &[S]) -> Checked {
    if skills.len() > MAX_SKILLS {
        return Err(OutOfBounds {
            code: "too_many_items",
            detail: format!("`{field}` has more than {MAX_SKILLS} entries"),
        });
    }
    for (i, s) in skills.iter().enumerate() {
        text(&format!("{field}[{i}]"), s.as_ref(), MAX_SKILL_CHARS)?;
    }
    Ok(())
}

/// A JSON value is at most `max` bytes as JSON text.
pub fn json(field: &str, value: &Value, max: usize) -> Checked {
    let n = json_len(value);
    if n > max {
        return Err(OutOfBounds {
            code: "field_too_large",
            detail: format!("`{field}` is larger than {max} bytes of JSON"),
        });
    }
    Ok(())
}

/// The `x_*` fields of one object (`at` names it, e.g. `tasks[2]`; empty for the body itself):
/// each at most [`MAX_EXTENSION_BYTES`], together at most [`MAX_EXTENSIONS_BYTES`].
pub fn extensions(at: &str, fields: &Map<String, Value>) -> Checked {
    let name = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    let mut total = 0;
    for (k, v) in fields {
        let n = k.len() + json_len(v);
        if n > MAX_EXTENSION_BYTES {
            return Err(OutOfBounds {
                code: "field_too_large",
                detail: format!(
                    "`{}` is larger than {MAX_EXTENSION_BYTES} bytes of JSON",
                    name(k)
                ),
            });
        }
        total += n;
    }
    if total > MAX_EXTENSIONS_BYTES {
        return Err(OutOfBounds {
            code: "field_too_large",
            detail: format!(
                "the `x_*` fields of `{}` are larger than {MAX_EXTENSIONS_BYTES} bytes together",
                if at.is_empty() { "the body" } else { at }
            ),
        });
    }
    Ok(())
}

/// The length of a value as compact JSON text.
fn json_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        other => serde_json::to_vec(other).map_or(usize::MAX, |v| v.len()),
    }
}

/// A `pr_url`: an `http` or `https` URL with a host, at most [`MAX_URL_CHARS`] long.
pub fn pr_url(value: &str) -> Checked {
    let bad = |why: &str| OutOfBounds {
        code: "invalid_pr_url",
        detail: format!("`artifact.pr_url` {why}"),
    };
    text("artifact.pr_url", value, MAX_URL_CHARS).map_err(|_| bad("is too long"))?;
    let url = url::Url::parse(value.trim()).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must be an http or https URL"));
    }
    Ok(())
}

/// For a GitHub task (of repository `owner/name`): `pr_url` is a pull request of that repository,
/// `https://github.com/OWNER/NAME/pull/N`.
pub fn github_pr_url(repo: &str, value: &str) -> Checked {
    github_pr_number(repo, value).map(|_| ())
}

/// The number of the pull request of `repo` that `value` names (checked as
/// [`github_pr_url`] checks it).
pub fn github_pr_number(repo: &str, value: &str) -> Result<u64, OutOfBounds> {
    pr_url(value)?;
    let url = url::Url::parse(value.trim()).map_err(|_| OutOfBounds {
        code: "invalid_pr_url",
        detail: "`artifact.pr_url` is not a URL".into(),
    })?;
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let number = (url.scheme() == "https"
        && url.host_str() == Some("github.com")
        && segments.len() == 4
        && format!("{}/{}", segments[0], segments[1]).eq_ignore_ascii_case(repo)
        && segments[2] == "pull")
        .then(|| segments[3].parse::<u64>().ok())
        .flatten()
        .filter(|n| *n > 0);
    number.ok_or_else(|| OutOfBounds {
        code: "invalid_pr_url",
        detail: format!(
            "`artifact.pr_url` must be a pull request of {repo}: https://github.com/{repo}/pull/N"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_count_characters() {
        assert!(text("name", &"é".repeat(100), 100).is_ok());
        let e = text("name", &"é".repeat(101), 100).unwrap_err();
        assert_eq!(e.code, "field_too_long");
        assert!(e.detail.contains("`name`"));
    }

    #[test]
    fn control_characters_are_refused_where_a_terminal_would_read_them() {
        for bad in [
            "a\u{1b}[2Jb",
            "a\0b",
            "a\u{7f}",
            "a\u{9b}31m",
            "tab\there",
            "two\nlines",
        ] {
            let e = text("title", bad, 100).unwrap_err();
            assert_eq!(e.code, "invalid_characters", "{bad:?}");
            assert!(e.detail.contains("`title`"), "{}", e.detail);
        }
        assert!(text("title", "Ünïcode — fine ✓", 100).is_ok());
        assert!(lines("description", "one\n\ttwo\r\nthree", 100).is_ok());
        for bad in ["a\u{1b}]8;;x\u{7}", "a\0", "a\u{85}", "a\u{8}"] {
            assert_eq!(
                lines("description", bad, 100).unwrap_err().code,
                "invalid_characters"
            );
        }
        assert!(free_text("reason", "\u{1b}[31mFAILED\u{1b}[0m", 100).is_ok());
        assert_eq!(
            free_text("reason", "a\0", 100).unwrap_err().code,
            "invalid_characters"
        );
        let e = text("name", "ok\u{1b}", 100).unwrap_err();
        assert!(e.detail.contains("U+001B at character 3"), "{}", e.detail);
    }

    #[test]
    fn stripping_keeps_what_the_field_allows() {
        assert_eq!(
            strip_controls("Fix\u{1b}[2J the\0 bug\n", Controls::None),
            "Fix[2J the bug"
        );
        assert_eq!(
            strip_controls("a\r\nb\u{7}\tc", Controls::LineBreaks),
            "a\r\nb\tc"
        );
        assert_eq!(strip_controls("plain", Controls::None), "plain");
    }

    #[test]
    fn numbers_have_ranges() {
        assert!(range("capacity_points", "c", 1, CAPACITY_POINTS).is_ok());
        assert!(range("capacity_points", "c", i64::MAX, CAPACITY_POINTS).is_err());
        assert!(range("tier", "t", -1, TIER).is_err());
    }

    #[test]
    fn extensions_are_bounded_per_field_and_together() {
        let mut m = Map::new();
        m.insert("x_a".into(), json!("a".repeat(5000)));
        assert!(extensions("", &m).unwrap_err().detail.contains("`x_a`"));
        let mut m = Map::new();
        for i in 0..5 {
            m.insert(format!("x_{i}"), json!("a".repeat(4000)));
        }
        assert!(
            extensions("tasks[0]", &m)
                .unwrap_err()
                .detail
                .contains("tasks[0]")
        );
    }

    #[test]
    fn pr_urls_are_web_urls() {
        assert!(pr_url("https://example.test/pr/1").is_ok());
        assert!(pr_url("http://git.example/x/pull/2").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://x/y",
            "not a url",
            "",
        ] {
            assert_eq!(pr_url(bad).unwrap_err().code, "invalid_pr_url", "{bad}");
        }
        assert!(github_pr_url("octo/web", "https://github.com/octo/web/pull/12").is_ok());
        assert!(github_pr_url("octo/web", "https://github.com/Octo/Web/pull/12").is_ok());
        assert_eq!(
            github_pr_number("octo/web", "https://github.com/octo/web/pull/12?x=1"),
            Ok(12)
        );
        for bad in [
            "https://github.com/octo/other/pull/12",
            "https://github.com/octo/web/issues/12",
            "https://example.test/octo/web/pull/12",
            "https://github.com/octo/web/pull/x",
        ] {
            assert!(github_pr_url("octo/web", bad).is_err(), "{bad}");
        }
    }
}
