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
//! A line that is none of these (`- zed`, `githb:dave`, `frank, grace`) is reported to
//! maintainers with the list's error; the list's valid entries still apply.
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

/// A line that is not a valid entry: reported to maintainers, never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// 1-based.
    pub number: usize,
    /// Why, in words.
    pub why: String,
}

/// A list's text as read: its entries, and the lines that are not valid entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VouchList {
    pub entries: Vec<VouchEntry>,
    pub invalid: Vec<InvalidLine>,
}

/// How many invalid lines an error names (the rest are counted).
const INVALID_LINES_NAMED: usize = 5;

impl VouchList {
    /// What maintainers are shown about the invalid lines of the list at `place` (the
    /// repository and path), if there are any.
    pub fn error(&self, place: &str) -> Option<String> {
        if self.invalid.is_empty() {
            return None;
        }
        let mut named: Vec<String> = self
            .invalid
            .iter()
            .take(INVALID_LINES_NAMED)
            .map(|l| format!("line {}: {}", l.number, l.why))
            .collect();
        let more = self.invalid.len().saturating_sub(INVALID_LINES_NAMED);
        if more > 0 {
            named.push(format!("and {more} more"));
        }
        Some(format!(
            "{place}: {} line(s) are not valid entries and are not applied ({})",
            self.invalid.len(),
            named.join("; ")
        ))
    }
}

/// Why a list is not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VouchError {
    #[error("{path}: the list has more than {MAX_LINES} lines; it is not applied")]
    TooLong { path: String },
}

/// Platforms other than GitHub whose handles a list may name (`gitlab:someone`): ignored here.
/// Any other `name:` prefix is a mistake the maintainers are told about.
const OTHER_PLATFORMS: [&str; 7] = [
    "gitlab",
    "codeberg",
    "bitbucket",
    "sourcehut",
    "srht",
    "gitea",
    "forgejo",
];

/// The entries of a list's text, one per login (a later line replaces an earlier one), in the
/// order of their last line, and the lines that are not valid entries. A byte-order mark before
/// the first line is not part of it. Lines that name another platform are skipped.
pub fn parse(path: &str, text: &str) -> Result<VouchList, VouchError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.lines().nth(MAX_LINES).is_some() {
        return Err(VouchError::TooLong { path: path.into() });
    }
    let mut list = VouchList::default();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(entry)) => {
                list.entries.retain(|e| e.login != entry.login);
                list.entries.push(entry);
            }
            Ok(None) => {}
            Err(why) => list.invalid.push(InvalidLine { number: i + 1, why }),
        }
    }
    Ok(list)
}

/// One line: `None` for a comment, a blank line or another platform's handle; an error, in
/// words, for a line that is none of these and no valid entry.
fn parse_line(line: &str) -> Result<Option<VouchEntry>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (handle, details) = match line.split_once(char::is_whitespace) {
        Some((handle, details)) => (handle, Some(details.trim())),
        None => (line, None),
    };
    let (denounced, handle) = match handle.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, handle),
    };
    if handle.is_empty() {
        return Err("`-` must be followed by a handle, with no space between".into());
    }
    let login = match handle.split_once(':') {
        Some((platform, login)) if platform.eq_ignore_ascii_case("github") => login,
        Some((platform, _))
            if OTHER_PLATFORMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(platform)) =>
        {
            return Ok(None);
        }
        Some((platform, _)) => {
            return Err(format!(
                "`{}` is not a platform (a handle is `login` or `github:login`)",
                shown(platform)
            ));
        }
        None => handle,
    };
    let login = login.trim_start_matches('@');
    if !is_login(login) {
        return Err(format!(
            "`{}` is not a GitHub login (one handle a line)",
            shown(login)
        ));
    }
    Ok(Some(VouchEntry {
        login: login.to_ascii_lowercase(),
        denounced,
        details: details
            .filter(|d| !d.is_empty())
            .map(|d| d.chars().take(MAX_DETAILS_CHARS).collect()),
    }))
}

/// At most 40 characters of what a line said, without backticks, for an error.
fn shown(text: &str) -> String {
    text.chars().filter(|c| *c != '`').take(40).collect()
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
            parse("VOUCHED.td", text).unwrap().entries,
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
            parse("VOUCHED.td", text).unwrap().entries,
            [
                entry("carol", false, None),
                entry("mallory", true, Some("spam pull requests")),
                entry("eve", true, None),
            ]
        );
    }

    #[test]
    fn other_platforms_are_ignored_and_malformed_lines_reported() {
        let text = "gitlab:alice\n-codeberg:bob\nnot_a_login\n-\ngithub:\nok-login\n\
                    - zed spam\ngithb:dave\nfrank, grace\n";
        let list = parse("VOUCHED.td", text).unwrap();
        assert_eq!(list.entries, [entry("ok-login", false, None)]);
        let lines: Vec<usize> = list.invalid.iter().map(|l| l.number).collect();
        assert_eq!(lines, [3, 4, 5, 7, 8, 9]);
        assert_eq!(
            list.invalid[4].why,
            "`githb` is not a platform (a handle is `login` or `github:login`)"
        );
        assert_eq!(
            list.invalid[5].why,
            "`frank,` is not a GitHub login (one handle a line)"
        );
        let error = list.error("o/r/VOUCHED.td").unwrap();
        assert!(
            error.starts_with(
                "o/r/VOUCHED.td: 6 line(s) are not valid entries and are not applied (line 3: "
            ),
            "{error}"
        );
        assert!(error.ends_with("; and 1 more)"), "{error}");
        assert_eq!(parse("VOUCHED.td", "alice\n").unwrap().error("x"), None);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_entry() {
        let list = parse("VOUCHED.td", "\u{feff}-mallory spam\nalice\n").unwrap();
        assert_eq!(
            list.entries,
            [
                entry("mallory", true, Some("spam")),
                entry("alice", false, None)
            ]
        );
        assert!(list.invalid.is_empty());
    }

    #[test]
    fn a_later_line_replaces_an_earlier_one() {
        let text = "alice\n-alice changed their mind\n";
        assert_eq!(
            parse("VOUCHED.td", text).unwrap().entries,
            [entry("alice", true, Some("changed their mind"))]
        );
    }

    #[test]
    fn at_most_ten_thousand_lines() {
        let fits = "# x\n".repeat(MAX_LINES);
        assert!(parse("VOUCHED.td", &fits).unwrap().entries.is_empty());
        let over = "alice\n".repeat(MAX_LINES + 1);
        assert_eq!(
            parse(".github/VOUCHED.td", &over).unwrap_err().to_string(),
            ".github/VOUCHED.td: the list has more than 10000 lines; it is not applied"
        );
    }

    #[test]
    fn details_are_bounded_and_lines_print_back() {
        let long = format!("alice {}", "x".repeat(500));
        let parsed = parse("VOUCHED.td", &long).unwrap().entries;
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
