//! A repository's vouch list (contract section 12, rule 12): `VOUCHED.td`, else
//! `.github/VOUCHED.td`, in the format of `mitchellh/vouch`, read into entries, free of I/O.
//!
//! ```text
//! # Comments start with `#`; blank lines are skipped.
//! alice                      a vouched login
//! github:bob Reviewed by @carol   a vouched login, with details after a space
//! -mallory spam pull requests     a denounced login, with details
//! -github:eve
//! gitlab:someone             another platform's handle: ignored here
//! ```
//!
//! A list of more than [`MAX_LINES`] lines is refused as a whole (an error maintainers see; the
//! list is not applied). A later line for the same login replaces an earlier one.

/// The most lines a list may have.
pub const MAX_LINES: usize = 10_000;

/// The longest details kept of one entry (characters); the rest is cut.
pub const MAX_DETAILS_CHARS: usize = 200;

/// The longest reason `/owp denounce @login REASON` keeps (characters).
pub const MAX_REASON_CHARS: usize = 200;

/// Where a repository's list is read, in order: the first that exists is the list.
pub const VOUCH_PATHS: [&str; 2] = ["VOUCHED.td", ".github/VOUCHED.td"];

/// One login of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VouchEntry {
    /// Lower-case GitHub login.
    pub login: String,
    /// Denounced (`-login`) rather than vouched.
    pub denounced: bool,
    /// What followed the handle, if anything (never repeated to the person).
    pub details: Option<String>,
}

/// Why a list is not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VouchError {
    #[error("{path}: the list has more than {MAX_LINES} lines; it is not applied")]
    TooLong { path: String },
}

/// The entries of a list's text, one per login (a later line replaces an earlier one), in the
/// order of their last line. Lines that name another platform, or no valid GitHub login, are
/// skipped.
pub fn parse(path: &str, text: &str) -> Result<Vec<VouchEntry>, VouchError> {
    if text.lines().nth(MAX_LINES).is_some() {
        return Err(VouchError::TooLong { path: path.into() });
    }
    let mut entries: Vec<VouchEntry> = Vec::new();
    for line in text.lines() {
        let Some(entry) = parse_line(line) else {
            continue;
        };
        entries.retain(|e| e.login != entry.login);
        entries.push(entry);
    }
    Ok(entries)
}

/// One line: `None` for a comment, a blank line, another platform's handle or a malformed one.
fn parse_line(line: &str) -> Option<VouchEntry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (handle, details) = match line.split_once(char::is_whitespace) {
        Some((handle, details)) => (handle, Some(details.trim())),
        None => (line, None),
    };
    let (denounced, handle) = match handle.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, handle),
    };
    let login = match handle.split_once(':') {
        Some((platform, login)) if platform.eq_ignore_ascii_case("github") => login,
        Some(_) => return None,
        None => handle,
    };
    let login = login.trim_start_matches('@');
    if !is_login(login) {
        return None;
    }
    Some(VouchEntry {
        login: login.to_ascii_lowercase(),
        denounced,
        details: details
            .filter(|d| !d.is_empty())
            .map(|d| d.chars().take(MAX_DETAILS_CHARS).collect()),
    })
}

/// Whether `login` can be a GitHub login (alphanumerics and inner hyphens, at most 39).
pub fn is_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 39
        && !login.starts_with('-')
        && !login.ends_with('-')
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// One entry as a line of the file's format (what `owp admin vouched` prints).
pub fn line_of(login: &str, denounced: bool, details: Option<&str>) -> String {
    let sign = if denounced { "-" } else { "" };
    match details.map(|d| d.replace(['\n', '\r'], " ")) {
        Some(d) if !d.trim().is_empty() => format!("{sign}github:{login} {}", d.trim()),
        _ => format!("{sign}github:{login}"),
    }
}

/// Whether a push's changed paths touch a vouch list.
pub fn touches_list<'a>(mut paths: impl Iterator<Item = &'a str>) -> bool {
    paths.any(|p| VOUCH_PATHS.contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(login: &str, denounced: bool, details: Option<&str>) -> VouchEntry {
        VouchEntry {
            login: login.into(),
            denounced,
            details: details.map(str::to_string),
        }
    }

    #[test]
    fn comments_blank_lines_and_details() {
        let text = "# Vouched contributors\n\nalice\n  # indented comment\nBob thanks for #12\n";
        assert_eq!(
            parse("VOUCHED.td", text).unwrap(),
            [
                entry("alice", false, None),
                entry("bob", false, Some("thanks for #12"))
            ]
        );
    }

    #[test]
    fn github_prefix_and_denouncements() {
        let text = "github:carol\n-github:Mallory spam pull requests\n-eve\n";
        assert_eq!(
            parse("VOUCHED.td", text).unwrap(),
            [
                entry("carol", false, None),
                entry("mallory", true, Some("spam pull requests")),
                entry("eve", true, None),
            ]
        );
    }

    #[test]
    fn other_platforms_and_malformed_handles_are_ignored() {
        let text = "gitlab:alice\n-codeberg:bob\nnot_a_login\n-\ngithub:\nok-login\n";
        assert_eq!(
            parse("VOUCHED.td", text).unwrap(),
            [entry("ok-login", false, None)]
        );
    }

    #[test]
    fn a_later_line_replaces_an_earlier_one() {
        let text = "alice\n-alice changed their mind\n";
        assert_eq!(
            parse("VOUCHED.td", text).unwrap(),
            [entry("alice", true, Some("changed their mind"))]
        );
    }

    #[test]
    fn at_most_ten_thousand_lines() {
        let fits = "# x\n".repeat(MAX_LINES);
        assert!(parse("VOUCHED.td", &fits).unwrap().is_empty());
        let over = "alice\n".repeat(MAX_LINES + 1);
        assert_eq!(
            parse(".github/VOUCHED.td", &over).unwrap_err().to_string(),
            ".github/VOUCHED.td: the list has more than 10000 lines; it is not applied"
        );
    }

    #[test]
    fn details_are_bounded_and_lines_print_back() {
        let long = format!("alice {}", "x".repeat(500));
        let parsed = parse("VOUCHED.td", &long).unwrap();
        assert_eq!(
            parsed[0].details.as_ref().map(|d| d.len()),
            Some(MAX_DETAILS_CHARS)
        );
        assert_eq!(
            line_of("bob", true, Some("spam\nagain")),
            "-github:bob spam again"
        );
        assert_eq!(line_of("carol", false, None), "github:carol");
    }
}
