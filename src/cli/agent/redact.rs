//! What a failed hand-off tells the pool. A give-back reason is stored in the task's events, which
//! admins, maintainers and (for a public repository) anyone read, so it never carries the command
//! line or its environment: it names the program, how it ended, and the last lines it printed, with
//! anything that looks like a secret masked and the whole bounded in length.

use super::process::Ended;

/// The longest reason sent (the server bounds reasons too).
pub const MAX_REASON_CHARS: usize = 1_000;
/// How many of the output's last lines a reason quotes.
const TAIL_LINES: usize = 12;
/// The longest line quoted.
const MAX_LINE_CHARS: usize = 200;
/// What stands in for a masked secret.
const MASK: &str = "***";

/// `the agent (claude) exited with status 3; its last lines:` and the masked tail.
/// `what` is `agent`, `set-up`, `test` or `lint`; `program` is a bare program name.
pub fn failure_reason(what: &str, program: &str, ended: &Ended, tail: &str) -> String {
    let who = match what {
        "agent" => "the agent".to_string(),
        other => format!("the repository's {other} command"),
    };
    let program = mask_secrets(program);
    let named = if program.is_empty() {
        who
    } else {
        format!("{who} ({program})")
    };
    let how = match ended {
        Ended::Exited(Some(code)) => format!("exited with status {code}"),
        Ended::Exited(None) => "was killed by a signal".to_string(),
        Ended::Stopped(why) => format!("was stopped: {}", mask_secrets(why)),
    };
    let mut reason = format!("{named} {how}");
    let lines: Vec<String> = tail
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| clip_line(&mask_secrets(l)))
        .collect();
    let lines = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    if !lines.is_empty() {
        reason.push_str("; its last lines:\n");
        reason.push_str(&lines.join("\n"));
    }
    clip(&reason)
}

/// Bounds a reason to [`MAX_REASON_CHARS`]: its beginning (what failed) and its end (the last
/// output) are kept.
pub fn clip(reason: &str) -> String {
    let chars: Vec<char> = reason.chars().collect();
    if chars.len() <= MAX_REASON_CHARS {
        return reason.to_string();
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - (MAX_REASON_CHARS - 210)..]
        .iter()
        .collect();
    format!("{head}\n…\n{tail}")
}

fn clip_line(line: &str) -> String {
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(MAX_LINE_CHARS).collect();
    format!("{cut}…")
}

/// Masks what looks like a secret: API keys (`sk-…`, `ghp_…`, `github_pat_…`, `AKIA…`, …),
/// `NAME=value` and `NAME: value` pairs whose name speaks of a key, token, secret or password,
/// bearer and basic credentials, passwords in URLs, and long high-entropy words.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // The next word is a credential: it follows `Bearer`, `Authorization: Basic`, or a name of a
    // secret and a `:` or `=` (`"api_key": "…"`, `password = …`).
    let mut next_is_secret = false;
    // The last word names a secret; a `:` or `=` after it makes the next word a credential.
    let mut named_secret = false;
    let mut after_authorization = false;
    for (is_word, piece) in pieces(text) {
        if !is_word {
            out.push_str(piece);
            let only_separators = piece.chars().all(|c| " :=\"'".contains(c));
            if named_secret && only_separators && piece.contains([':', '=']) {
                next_is_secret = true;
                named_secret = false;
            } else if !only_separators {
                next_is_secret = false;
                named_secret = false;
            }
            continue;
        }
        // A lone `:` or `=` between a quoted name and its value (`"api_key": "…"`).
        if piece.chars().all(|c| c == ':' || c == '=') {
            out.push_str(piece);
            next_is_secret |= named_secret;
            named_secret = false;
            continue;
        }
        let lower = piece.to_ascii_lowercase();
        if next_is_secret && !matches!(lower.as_str(), "bearer" | "basic" | "token") {
            out.push_str(MASK);
            next_is_secret = false;
            after_authorization = false;
            continue;
        }
        let (masked, credential_follows) = mask_word(piece);
        out.push_str(&masked);
        next_is_secret = credential_follows
            || next_is_secret
            || lower == "bearer"
            || (after_authorization && lower == "basic");
        after_authorization = lower == "authorization:" || lower == "authorization";
        named_secret = !credential_follows && masked == piece && names_a_secret(piece);
    }
    out
}

/// Splits text into words (runs of characters a secret is made of, plus the separators of
/// `NAME=value` and URLs) and what lies between them.
fn pieces(text: &str) -> Vec<(bool, &str)> {
    let is_word = |c: char| c.is_alphanumeric() || "-_.+/=:@%~!$&*?#".contains(c);
    let mut out = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let w = is_word(c);
        match current {
            Some(kind) if kind == w => {}
            Some(kind) => {
                out.push((kind, &text[start..i]));
                start = i;
                current = Some(w);
            }
            None => current = Some(w),
        }
    }
    if let Some(kind) = current {
        out.push((kind, &text[start..]));
    }
    out
}

/// A word with its secrets masked, and whether the next word is a credential (`Bearer`,
/// `password:`, `token=` with nothing after the separator).
fn mask_word(word: &str) -> (String, bool) {
    // `NAME=value`, `NAME:value`, `--name=value`.
    if let Some(i) = word.find(['=', ':']) {
        let (name, rest) = word.split_at(i);
        let value = &rest[1..];
        if names_a_secret(name) {
            if value.is_empty() {
                return (word.to_string(), true);
            }
            return (format!("{name}{}{MASK}", &rest[..1]), false);
        }
        // A URL with a password: `https://user:secret@host/…`.
        if let Some(masked) = mask_url_password(word) {
            return (masked, false);
        }
        if rest.starts_with('=') && !name.is_empty() {
            let (value, _) = mask_word(value);
            return (format!("{name}={value}"), false);
        }
    }
    if looks_like_a_key(word) {
        return (MASK.to_string(), false);
    }
    (word.to_string(), false)
}

/// A variable or field name that speaks of a credential.
fn names_a_secret(name: &str) -> bool {
    let upper = name
        .trim_start_matches('-')
        .trim_matches(['"', '\''])
        .to_ascii_uppercase();
    if upper.is_empty() || upper.contains('/') {
        return false;
    }
    [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PWD",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "SESSION",
    ]
    .iter()
    .any(|part| upper.contains(part))
}

fn mask_url_password(word: &str) -> Option<String> {
    let scheme_end = word.find("://")?;
    let rest = &word[scheme_end + 3..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if rest[..at].contains('/') {
        return None;
    }
    let user = userinfo.split(':').next().unwrap_or("");
    Some(format!(
        "{}{user}:{MASK}{}",
        &word[..scheme_end + 3],
        &rest[at..]
    ))
}

/// Known key shapes, and long words that read like random data (but not the pool's own task,
/// lease and worker ids, `t_…`, `l_…`, `w_…`).
fn looks_like_a_key(word: &str) -> bool {
    let w = word.trim_matches(|c: char| ".,;:!?\"'".contains(c));
    if is_pool_id(w) {
        return false;
    }
    const PREFIXES: [&str; 12] = [
        "sk-",
        "sk_live_",
        "rk_live_",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
    ];
    if PREFIXES
        .iter()
        .any(|p| w.starts_with(p) && w.len() >= p.len() + 8)
    {
        return true;
    }
    let upper_id = |prefix: &str| {
        w.len() == 20
            && w.starts_with(prefix)
            && w[4..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if upper_id("AKIA") || upper_id("ASIA") {
        return true;
    }
    if w.starts_with("AIza") && w.len() >= 35 {
        return true;
    }
    high_entropy(w)
}

fn is_pool_id(w: &str) -> bool {
    let Some((prefix, id)) = w.split_once('_') else {
        return false;
    };
    matches!(prefix, "t" | "l" | "w")
        && id.len() == 32
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// At least 24 characters with letters and digits mixed (a path or a sentence has separators)
/// and more than 3.5 bits of entropy a character.
fn high_entropy(w: &str) -> bool {
    if w.len() < 24 || w.contains('/') && !w.contains("://") && w.matches('/').count() > 1 {
        return false;
    }
    let token: String = w
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(*c))
        .collect();
    if token.len() < 24 || token.len() * 10 < w.len() * 9 {
        return false;
    }
    let has_digit = token.chars().any(|c| c.is_ascii_digit());
    let has_alpha = token.chars().any(|c| c.is_ascii_alphabetic());
    if !(has_digit && has_alpha) {
        return false;
    }
    let mut counts = [0usize; 128];
    for b in token.bytes() {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let n = token.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 3.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let cases = [
            (
                "ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnop claude -p",
                "ANTHROPIC_API_KEY=*** claude -p",
            ),
            ("using sk-proj-Abc123def456ghi789", "using ***"),
            ("token ghp_0123456789abcdefghijABCDEFGHIJ0123", "token ***"),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                "***",
            ),
            ("aws AKIAIOSFODNN7EXAMPLE done", "aws *** done"),
            (
                "Authorization: Bearer abc.def.ghi",
                "Authorization: Bearer ***",
            ),
            ("DB_PASSWORD=hunter2 make", "DB_PASSWORD=*** make"),
            ("GH_TOKEN: 1234", "GH_TOKEN: ***"),
            ("\"api_key\": \"xyz\"", "\"api_key\": \"***\""),
            (
                "fetch https://bob:s3cret@git.example.com/x.git",
                "fetch https://bob:***@git.example.com/x.git",
            ),
            ("--secret=abc", "--secret=***"),
            (
                "value 9fQ2xL7pZ4vN8kR1tY6wB3mC5hJ0dS2a here",
                "value *** here",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(mask_secrets(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_output_is_kept() {
        for text in [
            "error[E0425]: cannot find value `x` in this scope",
            "test result: FAILED. 3 passed; 1 failed",
            "/home/person/.local/share/owp/work/tasks/t_01HX/src/main.rs:10:5",
            "make: *** [Makefile:3: test] Error 2",
            "expected good, found bad",
            "PATH=/usr/bin:/bin",
            "agent working on t_01a212f5f9b6734da37c0ab2aab238ce",
        ] {
            assert_eq!(mask_secrets(text), text);
        }
    }

    #[test]
    fn reasons_name_the_program_not_the_command_line() {
        let r = failure_reason(
            "agent",
            "claude",
            &Ended::Exited(Some(3)),
            "line one\n\nOPENAI_API_KEY=sk-abcdefghijklmnop failed\n",
        );
        assert_eq!(
            r,
            "the agent (claude) exited with status 3; its last lines:\nline one\nOPENAI_API_KEY=*** failed"
        );
        let r = failure_reason("test", "make", &Ended::Exited(Some(2)), "");
        assert_eq!(
            r,
            "the repository's test command (make) exited with status 2"
        );
        let long = "x ".repeat(5_000);
        let r = failure_reason("lint", "make", &Ended::Exited(None), &long);
        assert!(r.chars().count() <= MAX_REASON_CHARS, "{}", r.len());
        let many: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let r = failure_reason("test", "make", &Ended::Exited(Some(1)), &many);
        assert!(r.ends_with("line 99") && !r.contains("line 87\n"), "{r}");
    }
}
