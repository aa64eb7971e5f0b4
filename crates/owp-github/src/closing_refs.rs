//! Which issues a pull request says it closes.
//!
//! GitHub links a pull request to an issue when its body has a closing keyword (`close`, `closes`,
//! `closed`, `fix`, `fixes`, `fixed`, `resolve`, `resolves`, `resolved`; any case, optionally
//! followed by a colon) directly before one issue reference: `#N`, `owner/name#N`, or the issue's
//! URL `https://github.com/owner/name/issues/N`. Each reference needs its own keyword
//! (`fixes #1, fixes #2`; in `fixes #1, #2` only #1 is closed). Text in code (blocks or inline)
//! and HTML comments is not read, as PR templates often hold examples there.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// GitHub's closing keywords, longest first where one is a prefix of another.
pub const CLOSING_KEYWORDS: [&str; 9] = [
    "closes", "closed", "close", "fixes", "fixed", "fix", "resolves", "resolved", "resolve",
];

/// The host of github.com's web pages.
pub const GITHUB_WEB_HOST: &str = "github.com";

/// An issue named by a pull request body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssueRef {
    pub owner: String,
    pub name: String,
    pub number: u64,
}

impl IssueRef {
    /// `owner/name`.
    pub fn repo(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The task key of the issue, `owner/name#N`.
    pub fn key(&self) -> String {
        format!("{}/{}#{}", self.owner, self.name, self.number)
    }
}

impl std::fmt::Display for IssueRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// The issues that `body` (a pull request description in `base_repo`, `owner/name`) closes, in
/// order of first mention, without repeats. `#N` means an issue of `base_repo`; a reference to
/// `base_repo` in other letter case is spelled as `base_repo`.
pub fn closing_references(body: &str, base_repo: &str) -> Vec<IssueRef> {
    closing_references_on_host(body, base_repo, GITHUB_WEB_HOST)
}

/// Like [`closing_references`], for a GitHub Enterprise Server whose web pages are on `web_host`.
pub fn closing_references_on_host(body: &str, base_repo: &str, web_host: &str) -> Vec<IssueRef> {
    let Some((base_owner, base_name)) = base_repo.split_once('/') else {
        return Vec::new();
    };
    let mut found: Vec<IssueRef> = Vec::new();
    for segment in prose_segments(body) {
        let mut scanner = Scanner::new(&segment, web_host);
        while let Some(reference) = scanner.next_reference() {
            let issue = match reference {
                Reference::Local(number) => IssueRef {
                    owner: base_owner.to_string(),
                    name: base_name.to_string(),
                    number,
                },
                Reference::Qualified {
                    owner,
                    name,
                    number,
                } => {
                    let same_repo = owner.eq_ignore_ascii_case(base_owner)
                        && name.eq_ignore_ascii_case(base_name);
                    let (owner, name) = if same_repo {
                        (base_owner, base_name)
                    } else {
                        (owner, name)
                    };
                    IssueRef {
                        owner: owner.to_string(),
                        name: name.to_string(),
                        number,
                    }
                }
            };
            if !found.contains(&issue) {
                found.push(issue);
            }
        }
    }
    found
}

/// Runs of rendered text; code and HTML end a run, so a keyword never joins a reference across
/// them.
fn prose_segments(body: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut in_code_block = 0usize;
    let mut end_segment = |current: &mut String| {
        if !current.trim().is_empty() {
            segments.push(std::mem::take(current));
        }
        current.clear();
    };
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::HtmlBlock) => {
                end_segment(&mut current);
                in_code_block += 1;
            }
            Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock) => {
                in_code_block = in_code_block.saturating_sub(1);
            }
            _ if in_code_block > 0 => {}
            Event::Text(text) => current.push_str(&text),
            Event::SoftBreak | Event::HardBreak => current.push('\n'),
            Event::Code(_) | Event::Html(_) | Event::InlineHtml(_) => end_segment(&mut current),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => {
                end_segment(&mut current)
            }
            _ => {}
        }
    }
    end_segment(&mut current);
    segments
}

enum Reference<'a> {
    Local(u64),
    Qualified {
        owner: &'a str,
        name: &'a str,
        number: u64,
    },
}

/// Finds `KEYWORD[:] REFERENCE` in one run of text.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    web_host: &'a str,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str, web_host: &'a str) -> Self {
        Scanner {
            text,
            pos: 0,
            web_host,
        }
    }

    fn next_reference(&mut self) -> Option<Reference<'a>> {
        while self.pos < self.text.len() {
            let start = self.pos;
            // Step to the next character boundary whatever happens.
            self.pos += self.text[start..].chars().next().map_or(1, char::len_utf8);
            if !self.at_word_start(start) {
                continue;
            }
            let Some(after_keyword) = self.keyword_at(start) else {
                continue;
            };
            let Some(ref_start) = self.separator_end(after_keyword) else {
                continue;
            };
            if let Some((reference, end)) = self.reference_at(ref_start) {
                self.pos = end;
                return Some(reference);
            }
        }
        None
    }

    fn at_word_start(&self, i: usize) -> bool {
        self.text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c))
    }

    /// The end of a closing keyword that starts at `i` and is a whole word.
    fn keyword_at(&self, i: usize) -> Option<usize> {
        let rest = &self.text[i..];
        CLOSING_KEYWORDS.iter().find_map(|keyword| {
            let head = rest.get(..keyword.len())?;
            let whole_word = rest[keyword.len()..]
                .chars()
                .next()
                .is_none_or(|c| !is_word_char(c));
            (head.eq_ignore_ascii_case(keyword) && whole_word).then_some(i + keyword.len())
        })
    }

    /// After a keyword: an optional colon and whitespace, at least one of the two.
    fn separator_end(&self, i: usize) -> Option<usize> {
        let rest = &self.text[i..];
        let after_colon = rest.strip_prefix(':').unwrap_or(rest);
        let after_space = after_colon.trim_start();
        let consumed = rest.len() - after_space.len();
        (consumed > 0).then_some(i + consumed)
    }

    fn reference_at(&self, i: usize) -> Option<(Reference<'a>, usize)> {
        let rest = &self.text[i..];
        if let Some(digits) = rest.strip_prefix('#') {
            let (number, len) = leading_number(digits)?;
            return self
                .ends_cleanly(i + 1 + len)
                .then_some((Reference::Local(number), i + 1 + len));
        }
        if let Some(found) = self.url_reference(i) {
            return Some(found);
        }
        // owner/name#N
        let (owner, after_owner) = take_while(rest, is_owner_char)?;
        let after_slash = after_owner.strip_prefix('/')?;
        let (name, after_name) = take_while(after_slash, is_repo_char)?;
        let digits = after_name.strip_prefix('#')?;
        let (number, len) = leading_number(digits)?;
        let end = self.text.len() - digits.len() + len;
        self.ends_cleanly(end).then_some((
            Reference::Qualified {
                owner,
                name,
                number,
            },
            end,
        ))
    }

    /// `https://HOST/owner/name/issues/N` (or `http://`).
    fn url_reference(&self, i: usize) -> Option<(Reference<'a>, usize)> {
        let rest = &self.text[i..];
        let after_scheme = strip_prefix_ignore_case(rest, "https://")
            .or_else(|| strip_prefix_ignore_case(rest, "http://"))?;
        let after_host = strip_prefix_ignore_case(after_scheme, self.web_host)?;
        let path = after_host.strip_prefix('/')?;
        let (owner, after_owner) = take_while(path, is_owner_char)?;
        let after_slash = after_owner.strip_prefix('/')?;
        let (name, after_name) = take_while(after_slash, is_repo_char)?;
        let digits = after_name.strip_prefix("/issues/")?;
        let (number, len) = leading_number(digits)?;
        let end = self.text.len() - digits.len() + len;
        // A URL may go on with a fragment (`#issuecomment-1`) or a slash.
        let clean = self.ends_cleanly(end) || matches!(self.text[end..].chars().next(), Some('#'));
        clean.then_some((
            Reference::Qualified {
                owner,
                name,
                number,
            },
            end,
        ))
    }

    /// A reference ends at the end of the text or before a character that cannot continue it.
    fn ends_cleanly(&self, end: usize) -> bool {
        self.text[end..]
            .chars()
            .next()
            .is_none_or(|c| !is_word_char(c) && c != '/' && c != '#')
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_owner_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn is_repo_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A non-empty run of `pred` characters at the start of `s`, and what follows it.
fn take_while(s: &str, pred: fn(char) -> bool) -> Option<(&str, &str)> {
    let end = s.find(|c| !pred(c)).unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// A positive issue number at the start of `s`, and how many bytes it took.
fn leading_number(s: &str) -> Option<(u64, usize)> {
    let (digits, _) = take_while(s, |c| c.is_ascii_digit())?;
    let number: u64 = digits.parse().ok()?;
    (number > 0).then_some((number, digits.len()))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "octo-org/hello";

    fn keys(body: &str) -> Vec<String> {
        closing_references(body, BASE)
            .iter()
            .map(IssueRef::key)
            .collect()
    }

    #[test]
    fn every_keyword_in_any_case() {
        for keyword in CLOSING_KEYWORDS {
            for spelled in [
                keyword.to_string(),
                keyword.to_uppercase(),
                format!("{}{}", keyword[..1].to_uppercase(), &keyword[1..]),
            ] {
                assert_eq!(
                    keys(&format!("{spelled} #7")),
                    ["octo-org/hello#7"],
                    "{spelled}"
                );
            }
        }
    }

    #[test]
    fn optional_colon() {
        assert_eq!(keys("Fixes: #7"), ["octo-org/hello#7"]);
        assert_eq!(keys("Fixes:#7"), ["octo-org/hello#7"]);
        assert_eq!(keys("Fixes:   #7"), ["octo-org/hello#7"]);
    }

    #[test]
    fn keyword_and_reference_need_a_separator() {
        assert!(keys("fixes#7").is_empty());
    }

    #[test]
    fn qualified_reference() {
        assert_eq!(keys("resolves other/repo.rs#12"), ["other/repo.rs#12"]);
        assert_eq!(keys("closes octo-org/hello#3"), ["octo-org/hello#3"]);
    }

    #[test]
    fn same_repo_in_other_case_uses_the_base_spelling() {
        assert_eq!(keys("closes Octo-Org/Hello#3"), ["octo-org/hello#3"]);
        assert_eq!(
            keys("closes https://github.com/OCTO-ORG/hello/issues/3"),
            ["octo-org/hello#3"]
        );
    }

    #[test]
    fn issue_url() {
        assert_eq!(
            keys("Fixes https://github.com/octo-org/hello/issues/42"),
            ["octo-org/hello#42"]
        );
        assert_eq!(
            keys("fixes https://github.com/a/b/issues/5#issuecomment-99"),
            ["a/b#5"]
        );
        assert_eq!(keys("fixes http://github.com/a/b/issues/5."), ["a/b#5"]);
    }

    #[test]
    fn urls_that_are_not_issues_of_this_host() {
        assert!(keys("fixes https://github.com/a/b/pull/5").is_empty());
        assert!(keys("fixes https://gitlab.com/a/b/issues/5").is_empty());
        assert!(keys("fixes https://github.com/a/b/issues/5x").is_empty());
        assert!(keys("fixes https://github.com/a/b/issues/").is_empty());
    }

    #[test]
    fn enterprise_host() {
        let refs = closing_references_on_host(
            "fixes https://ghe.example.com/a/b/issues/9 and fixes https://github.com/a/b/issues/8",
            BASE,
            "ghe.example.com",
        );
        assert_eq!(
            refs.iter().map(IssueRef::key).collect::<Vec<_>>(),
            ["a/b#9"]
        );
    }

    #[test]
    fn several_references_each_with_a_keyword() {
        assert_eq!(
            keys("Fixes #1, closes #2 and resolves x/y#3"),
            ["octo-org/hello#1", "octo-org/hello#2", "x/y#3"]
        );
    }

    #[test]
    fn a_list_after_one_keyword_closes_only_the_first() {
        assert_eq!(keys("Fixes #1, #2"), ["octo-org/hello#1"]);
    }

    #[test]
    fn repeats_are_listed_once() {
        assert_eq!(keys("fixes #1\n\ncloses #1"), ["octo-org/hello#1"]);
    }

    #[test]
    fn keyword_must_be_a_whole_word() {
        assert!(keys("prefixes #1").is_empty());
        assert!(keys("fixes_ #1").is_empty());
        assert!(keys("unresolved #1").is_empty());
        assert!(keys("closest #1").is_empty());
        assert!(keys("fixing #1").is_empty());
    }

    #[test]
    fn mentions_without_keyword_do_not_close() {
        assert!(keys("See #1 and octo-org/hello#2; related to #3").is_empty());
    }

    #[test]
    fn bad_numbers() {
        assert!(keys("fixes #0").is_empty());
        assert!(keys("fixes #").is_empty());
        assert!(keys("fixes #12abc").is_empty());
        assert!(keys("fixes #99999999999999999999999").is_empty());
    }

    #[test]
    fn reference_followed_by_punctuation() {
        assert_eq!(keys("This fixes #4."), ["octo-org/hello#4"]);
        assert_eq!(keys("(fixes #4)"), ["octo-org/hello#4"]);
        assert_eq!(keys("fixes #4, thanks"), ["octo-org/hello#4"]);
    }

    #[test]
    fn keyword_and_reference_across_a_line_break() {
        assert_eq!(keys("This fixes\n#4"), ["octo-org/hello#4"]);
    }

    #[test]
    fn keyword_inside_a_sentence() {
        assert_eq!(
            keys("This PR finally closes #10 after a long time."),
            ["octo-org/hello#10"]
        );
    }

    #[test]
    fn code_is_ignored() {
        assert!(keys("```\nfixes #1\n```").is_empty());
        assert!(keys("    fixes #1").is_empty());
        assert!(keys("Write `fixes #1` in the body").is_empty());
        assert!(keys("fixes `#1`").is_empty());
        assert_eq!(keys("```\nfixes #1\n```\nfixes #2"), ["octo-org/hello#2"]);
    }

    #[test]
    fn html_comments_are_ignored() {
        assert!(keys("<!-- fixes #1 -->").is_empty());
        assert!(keys("Describe the change.\n<!--\nfixes #1\n-->").is_empty());
        assert!(keys("text <!-- fixes #1 --> text").is_empty());
    }

    #[test]
    fn markup_around_the_reference_is_fine() {
        assert_eq!(keys("**Fixes** #5"), ["octo-org/hello#5"]);
        assert_eq!(
            keys("fixes [#5](https://github.com/octo-org/hello/issues/5)"),
            ["octo-org/hello#5"]
        );
        assert_eq!(keys("- [x] closes #6"), ["octo-org/hello#6"]);
        assert_eq!(keys("> fixes #7"), ["octo-org/hello#7"]);
    }

    #[test]
    fn invalid_base_repo_yields_nothing() {
        assert!(closing_references("fixes #1", "no-slash").is_empty());
    }

    #[test]
    fn multibyte_text_never_panics() {
        assert_eq!(keys("éfixes #1 — fixes #2 ✓"), ["octo-org/hello#2"]);
        assert!(keys("fixes ＃1").is_empty());
        assert!(keys("fixes: ").is_empty());
    }

    #[test]
    fn display_and_parts() {
        let r = IssueRef {
            owner: "a".into(),
            name: "b".into(),
            number: 3,
        };
        assert_eq!(r.to_string(), "a/b#3");
        assert_eq!(r.repo(), "a/b");
    }
}
