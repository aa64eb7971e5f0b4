//! The `/owp …` comment commands and their markdown-aware parser.
//!
//! A command is a line of a comment that starts with `/owp`, one command per line:
//!
//! ```text
//! /owp claim
//! /owp release
//! /owp renew
//! /owp status
//! /owp block REASON     (maintainers)
//! /owp unblock          (maintainers)
//! /owp link CODE
//! /owp opt-in           (count my merged pull requests toward trust; list me on the leaderboard)
//! /owp opt-out
//! /owp away [DAYS]      (a reviewer: no new reviews for DAYS days, 1–365, or until back)
//! /owp back
//! /owp review @LOGIN    (maintainers: another reviewer reviews this issue's pull request)
//! /owp vouch @LOGIN     (maintainers: the repository's vouch list, kept by the pool)
//! /owp unvouch @LOGIN   (maintainers)
//! /owp denounce @LOGIN [REASON]  (maintainers)
//! ```
//!
//! The comment is read as markdown (CommonMark with GitHub's tables and strikethrough), so quoting
//! or showing a command never runs it: lines inside fenced or indented code blocks, block quotes,
//! HTML, tables, struck-out text, inline code and link texts are not commands. A line that starts
//! with `/owp` but is not a well-formed command yields a [`CommandError`] so that the author gets a
//! reply; text that merely mentions `/owp` in the middle of a sentence is ignored.
//!
//! On an edited comment, [`new_commands`] returns only what the edit added.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The word every command starts with.
pub const COMMAND_PREFIX: &str = "/owp";

/// Stands in a line for inline HTML, so that `<b>/owp claim</b>` does not start with `/owp`.
const NOT_TEXT: char = '\u{FFFC}';

/// Longest accepted `/owp link` code.
pub const MAX_LINK_CODE_LEN: usize = 64;

/// One command read from a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take the issue (as the commenter's linked worker, or as an implicit worker of their login).
    Claim,
    /// Give the issue back.
    Release,
    /// Extend the commenter's claim.
    Renew,
    /// Refresh the status comment.
    Status,
    /// Maintainers: stop the task from being offered, with a reason.
    Block { reason: String },
    /// Maintainers: make a blocked task ready again.
    Unblock,
    /// Prove that the commenter's GitHub login owns a REST worker (`owp worker link` prints the code).
    Link { code: String },
    /// Count the commenter's outcomes (reputation, trust progression) and list them on the
    /// leaderboard.
    OptIn,
    /// Stop counting and listing the commenter.
    OptOut,
    /// A reviewer takes themselves out of assignment, for `days` days or until `/owp back`.
    Away { days: Option<u32> },
    /// A reviewer comes back into assignment.
    Back,
    /// Maintainers: another reviewer of the repository reviews the issue's pull request.
    Review { login: String },
    /// Maintainers: vouch for a login in this repository (rule 12).
    Vouch { login: String },
    /// Maintainers: take back a vouch or denouncement made by command.
    Unvouch { login: String },
    /// Maintainers: denounce a login in this repository, with an optional reason (never repeated
    /// to the person).
    Denounce {
        login: String,
        reason: Option<String>,
    },
}

impl Command {
    /// The command word, e.g. `claim`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Claim => "claim",
            Command::Release => "release",
            Command::Renew => "renew",
            Command::Status => "status",
            Command::Block { .. } => "block",
            Command::Unblock => "unblock",
            Command::Link { .. } => "link",
            Command::OptIn => "opt-in",
            Command::OptOut => "opt-out",
            Command::Away { .. } => "away",
            Command::Back => "back",
            Command::Review { .. } => "review",
            Command::Vouch { .. } => "vouch",
            Command::Unvouch { .. } => "unvouch",
            Command::Denounce { .. } => "denounce",
        }
    }

    /// Whether only maintainers (write access or above) may run it.
    pub fn requires_maintainer(&self) -> bool {
        matches!(
            self,
            Command::Block { .. }
                | Command::Unblock
                | Command::Review { .. }
                | Command::Vouch { .. }
                | Command::Unvouch { .. }
                | Command::Denounce { .. }
        )
    }
}

impl std::fmt::Display for Command {
    /// The command as one would type it; a link code is not repeated.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Block { reason } => write!(f, "{COMMAND_PREFIX} block {reason}"),
            Command::Link { .. } => write!(f, "{COMMAND_PREFIX} link"),
            Command::Away { days: Some(days) } => write!(f, "{COMMAND_PREFIX} away {days}"),
            Command::Review { login } => write!(f, "{COMMAND_PREFIX} review @{login}"),
            Command::Vouch { login } | Command::Unvouch { login } => {
                write!(f, "{COMMAND_PREFIX} {} {login}", self.name())
            }
            // A denouncement's reason is not repeated.
            Command::Denounce { login, .. } => write!(f, "{COMMAND_PREFIX} denounce {login}"),
            other => write!(f, "{COMMAND_PREFIX} {}", other.name()),
        }
    }
}

/// The command words, in the order they are suggested.
pub const COMMAND_WORDS: [&str; 15] = [
    "claim", "release", "renew", "status", "block", "unblock", "link", "opt-in", "opt-out", "away",
    "back", "review", "vouch", "unvouch", "denounce",
];

/// The longest absence `/owp away DAYS` takes, in days.
pub const MAX_AWAY_DAYS: u32 = 365;

/// A line that starts with `/owp` but is not a command we can run. Each variant becomes a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// `/owp` with nothing after it.
    #[error("`{COMMAND_PREFIX}` needs a command word")]
    MissingCommand,
    /// A word that is not a command; `did_you_mean` is the closest command word, if one is close.
    #[error("unknown command `{word}`")]
    UnknownCommand {
        word: String,
        did_you_mean: Option<&'static str>,
    },
    /// `/owp block` without a reason.
    #[error("`{COMMAND_PREFIX} block` needs a reason")]
    MissingReason,
    /// `/owp link` without a code.
    #[error("`{COMMAND_PREFIX} link` needs the code that `owp worker link` printed")]
    MissingLinkCode,
    /// `/owp link` with something that cannot be a code.
    #[error("`{code}` is not a link code")]
    InvalidLinkCode { code: String },
    /// `/owp vouch`, `unvouch` or `denounce` without a GitHub login, or with something else.
    #[error("`{COMMAND_PREFIX} {command}` needs a GitHub login, as `@login`")]
    MissingLogin { command: &'static str },
    /// `/owp denounce @login REASON` with a reason longer than the pool keeps.
    #[error(
        "the reason is longer than {} characters",
        crate::domain::vouch::MAX_REASON_CHARS
    )]
    ReasonTooLong,
    /// A command that takes no arguments (or one) was given more, e.g. `/owp claim @someone`.
    /// Refused rather than guessed at.
    #[error("`{COMMAND_PREFIX} {command}` takes no further words, found `{arguments}`")]
    UnexpectedArguments {
        command: &'static str,
        arguments: String,
    },
    /// `/owp away` with something other than a number of days from 1 to [`MAX_AWAY_DAYS`].
    #[error(
        "`{COMMAND_PREFIX} away` takes a number of days from 1 to {MAX_AWAY_DAYS}, found `{found}`"
    )]
    InvalidAwayDays { found: String },
    /// `/owp review` without a login.
    #[error("`{COMMAND_PREFIX} review` needs the reviewer's login")]
    MissingReviewer,
    /// `/owp review` with something that cannot be a GitHub login.
    #[error("`{found}` is not a GitHub login")]
    InvalidReviewer { found: String },
}

/// What one command line of a comment says.
pub type ParsedCommand = Result<Command, CommandError>;

/// Every command line of a comment body, in order.
pub fn parse_commands(body: &str) -> Vec<ParsedCommand> {
    command_lines(body)
        .iter()
        .filter_map(|line| parse_line(line))
        .collect()
}

/// The commands that an edit of a comment added: those of `new_body` that `old_body` did not
/// already have (compared as a multiset, so repeating a command line adds one more).
pub fn new_commands(old_body: &str, new_body: &str) -> Vec<ParsedCommand> {
    let mut old = parse_commands(old_body);
    parse_commands(new_body)
        .into_iter()
        .filter(|cmd| match old.iter().position(|o| o == cmd) {
            Some(i) => {
                let _already_there = old.swap_remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// Parses one line of plain text (already taken out of its markdown). `None` when the line is not
/// meant as a command.
pub fn parse_line(line: &str) -> Option<ParsedCommand> {
    let line = line.trim();
    let rest = strip_prefix_ignore_case(line, COMMAND_PREFIX)?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        // `/owpx`, `/owp-bot`: not our prefix.
        return None;
    }
    let rest = rest.trim_start();
    let (word, args) = match rest.split_once(char::is_whitespace) {
        Some((word, args)) => (word, args.trim()),
        None => (rest, ""),
    };
    if word.is_empty() {
        return Some(Err(CommandError::MissingCommand));
    }
    Some(parse_command(&word.to_lowercase(), args))
}

fn parse_command(word: &str, args: &str) -> ParsedCommand {
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::UnexpectedArguments {
                command: command.name(),
                arguments: args.to_string(),
            })
        }
    };
    match word {
        "claim" => no_args(Command::Claim),
        "release" => no_args(Command::Release),
        "renew" => no_args(Command::Renew),
        "status" => no_args(Command::Status),
        "unblock" => no_args(Command::Unblock),
        "block" if args.is_empty() => Err(CommandError::MissingReason),
        "block" => Ok(Command::Block {
            reason: collapse_whitespace(&args.replace(NOT_TEXT, " ")),
        }),
        "link" => parse_link(args),
        "opt-in" => no_args(Command::OptIn),
        "opt-out" => no_args(Command::OptOut),
        "away" => parse_away(args),
        "back" => no_args(Command::Back),
        "review" => parse_review(args),
        "vouch" | "unvouch" | "denounce" => parse_vouch(word, args),
        _ => Err(CommandError::UnknownCommand {
            word: word.to_string(),
            did_you_mean: did_you_mean(word),
        }),
    }
}

fn parse_link(args: &str) -> ParsedCommand {
    let mut words = args.split_whitespace();
    let Some(code) = words.next() else {
        return Err(CommandError::MissingLinkCode);
    };
    let extra: Vec<&str> = words.collect();
    if !extra.is_empty() {
        return Err(CommandError::UnexpectedArguments {
            command: "link",
            arguments: extra.join(" "),
        });
    }
    let well_formed = code.len() <= MAX_LINK_CODE_LEN
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if well_formed {
        Ok(Command::Link {
            code: code.to_string(),
        })
    } else {
        Err(CommandError::InvalidLinkCode {
            code: code.to_string(),
        })
    }
}

/// `/owp away [DAYS]`: nothing (until `/owp back`) or a whole number of days, 1 to
/// [`MAX_AWAY_DAYS`].
fn parse_away(args: &str) -> ParsedCommand {
    if args.is_empty() {
        return Ok(Command::Away { days: None });
    }
    match args.parse::<u32>() {
        Ok(days) if (1..=MAX_AWAY_DAYS).contains(&days) => Ok(Command::Away { days: Some(days) }),
        _ => Err(CommandError::InvalidAwayDays {
            found: args.replace(NOT_TEXT, " "),
        }),
    }
}

/// `/owp review @LOGIN` (the `@` may be left out): one GitHub login.
fn parse_review(args: &str) -> ParsedCommand {
    let mut words = args.split_whitespace();
    let Some(first) = words.next() else {
        return Err(CommandError::MissingReviewer);
    };
    let extra: Vec<&str> = words.collect();
    if !extra.is_empty() {
        return Err(CommandError::UnexpectedArguments {
            command: "review",
            arguments: extra.join(" "),
        });
    }
    let login = first.strip_prefix('@').unwrap_or(first);
    if crate::github::repo_config::is_github_login(login) && !login.ends_with("[bot]") {
        Ok(Command::Review {
            login: login.to_string(),
        })
    } else {
        Err(CommandError::InvalidReviewer {
            found: first.replace(NOT_TEXT, " "),
        })
    }
}

/// `/owp vouch @login`, `/owp unvouch @login`, `/owp denounce @login [reason]`: one login (the
/// `@` is optional), and for a denouncement a reason of at most
/// [`crate::domain::vouch::MAX_REASON_CHARS`] characters.
fn parse_vouch(word: &str, args: &str) -> ParsedCommand {
    let command = match word {
        "vouch" => "vouch",
        "unvouch" => "unvouch",
        _ => "denounce",
    };
    let (login, rest) = match args.split_once(char::is_whitespace) {
        Some((login, rest)) => (login, collapse_whitespace(&rest.replace(NOT_TEXT, " "))),
        None => (args, String::new()),
    };
    let login = login.trim_start_matches('@');
    if !crate::domain::vouch::is_login(login) {
        return Err(CommandError::MissingLogin { command });
    }
    let login = login.to_ascii_lowercase();
    match command {
        "denounce" if rest.chars().count() > crate::domain::vouch::MAX_REASON_CHARS => {
            Err(CommandError::ReasonTooLong)
        }
        "denounce" => Ok(Command::Denounce {
            login,
            reason: (!rest.is_empty()).then_some(rest),
        }),
        _ if !rest.is_empty() => Err(CommandError::UnexpectedArguments {
            command,
            arguments: rest,
        }),
        "vouch" => Ok(Command::Vouch { login }),
        _ => Ok(Command::Unvouch { login }),
    }
}

/// The closest command word to `word`, when it is within two edits.
pub fn did_you_mean(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    COMMAND_WORDS
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of running text of a markdown document, with everything that is a quotation or an
/// example taken out: code blocks, block quotes, HTML, tables and struck-out text are skipped;
/// inline code is kept in backticks and link texts in brackets, so neither can start a command.
fn command_lines(body: &str) -> Vec<String> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut lines = Vec::new();
    let mut line = String::new();
    // How many enclosing elements hide their text (code block, quote, table, …).
    let mut hidden = 0usize;

    let mut flush = |line: &mut String| {
        if !line.trim().is_empty() {
            lines.push(std::mem::take(line));
        }
        line.clear();
    };

    for event in Parser::new_ext(body, options) {
        match event {
            Event::Start(tag) if hides_text(&tag) => {
                flush(&mut line);
                hidden += 1;
            }
            Event::End(end) if ends_hiding(end) => {
                hidden = hidden.saturating_sub(1);
                flush(&mut line);
            }
            _ if hidden > 0 => {}
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => line.push('['),
            Event::End(TagEnd::Link | TagEnd::Image) => line.push(']'),
            Event::Start(Tag::Paragraph | Tag::Heading { .. } | Tag::Item)
            | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => flush(&mut line),
            Event::SoftBreak | Event::HardBreak | Event::Rule => flush(&mut line),
            Event::Text(text) => {
                let mut parts = text.split('\n');
                if let Some(first) = parts.next() {
                    line.push_str(first);
                }
                for part in parts {
                    flush(&mut line);
                    line.push_str(part);
                }
            }
            Event::Code(code) => {
                line.push('`');
                line.push_str(&code);
                line.push('`');
            }
            // Inline HTML (`<!-- /owp claim -->`, `<b>`), math, footnotes, task markers: not text.
            Event::InlineHtml(_) | Event::Html(_) => line.push(NOT_TEXT),
            _ => {}
        }
    }
    flush(&mut line);
    lines
}

fn hides_text(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::CodeBlock(_)
            | Tag::BlockQuote(_)
            | Tag::HtmlBlock
            | Tag::Table(_)
            | Tag::Strikethrough
            | Tag::FootnoteDefinition(_)
            | Tag::MetadataBlock(_)
    )
}

fn ends_hiding(end: TagEnd) -> bool {
    matches!(
        end,
        TagEnd::CodeBlock
            | TagEnd::BlockQuote(_)
            | TagEnd::HtmlBlock
            | TagEnd::Table
            | TagEnd::Strikethrough
            | TagEnd::FootnoteDefinition
            | TagEnd::MetadataBlock(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Vec<ParsedCommand> {
        parse_commands(body)
    }

    fn ok(body: &str) -> Vec<Command> {
        parse(body)
            .into_iter()
            .map(|c| c.unwrap_or_else(|e| panic!("{body:?}: {e}")))
            .collect()
    }

    fn unknown(word: &str, did_you_mean: Option<&'static str>) -> ParsedCommand {
        Err(CommandError::UnknownCommand {
            word: word.into(),
            did_you_mean,
        })
    }

    // --- single commands --------------------------------------------------------------------

    #[test]
    fn each_simple_command() {
        assert_eq!(ok("/owp claim"), [Command::Claim]);
        assert_eq!(ok("/owp release"), [Command::Release]);
        assert_eq!(ok("/owp renew"), [Command::Renew]);
        assert_eq!(ok("/owp status"), [Command::Status]);
        assert_eq!(ok("/owp unblock"), [Command::Unblock]);
    }

    #[test]
    fn block_takes_the_rest_of_the_line_as_reason() {
        assert_eq!(
            ok("/owp block waiting for the   design review"),
            [Command::Block {
                reason: "waiting for the design review".into()
            }]
        );
    }

    #[test]
    fn block_reason_keeps_inline_code_and_link_text() {
        assert_eq!(
            ok("/owp block needs `cargo` fix, see [the RFC](https://example.org/rfc)"),
            [Command::Block {
                reason: "needs `cargo` fix, see [the RFC]".into()
            }]
        );
    }

    #[test]
    fn block_without_reason_is_an_error() {
        assert_eq!(parse("/owp block"), [Err(CommandError::MissingReason)]);
        assert_eq!(parse("/owp block   "), [Err(CommandError::MissingReason)]);
    }

    #[test]
    fn link_takes_one_code() {
        assert_eq!(
            ok("/owp link AB12-cd_34"),
            [Command::Link {
                code: "AB12-cd_34".into()
            }]
        );
    }

    #[test]
    fn link_errors() {
        assert_eq!(parse("/owp link"), [Err(CommandError::MissingLinkCode)]);
        assert_eq!(
            parse("/owp link abc def"),
            [Err(CommandError::UnexpectedArguments {
                command: "link",
                arguments: "def".into()
            })]
        );
        assert_eq!(
            parse("/owp link ab;rm"),
            [Err(CommandError::InvalidLinkCode {
                code: "ab;rm".into()
            })]
        );
        let long = "a".repeat(MAX_LINK_CODE_LEN + 1);
        assert_eq!(
            parse(&format!("/owp link {long}")),
            [Err(CommandError::InvalidLinkCode { code: long })]
        );
    }

    #[test]
    fn prefix_and_word_are_case_insensitive() {
        assert_eq!(ok("/OWP Claim"), [Command::Claim]);
        assert_eq!(ok("/Owp STATUS"), [Command::Status]);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(ok("   /owp    claim   "), [Command::Claim]);
        assert_eq!(ok("/owp\tclaim"), [Command::Claim]);
    }

    #[test]
    fn arguments_to_a_command_without_arguments_are_refused() {
        // Never guess who is meant: `claim @someone` must not claim for the commenter.
        assert_eq!(
            parse("/owp claim @octocat"),
            [Err(CommandError::UnexpectedArguments {
                command: "claim",
                arguments: "@octocat".into()
            })]
        );
        assert_eq!(
            parse("/owp status please"),
            [Err(CommandError::UnexpectedArguments {
                command: "status",
                arguments: "please".into()
            })]
        );
    }

    #[test]
    fn bare_prefix_is_missing_command() {
        assert_eq!(parse("/owp"), [Err(CommandError::MissingCommand)]);
        assert_eq!(parse("/owp   "), [Err(CommandError::MissingCommand)]);
    }

    #[test]
    fn unknown_word_suggests_the_closest_command() {
        assert_eq!(parse("/owp clam"), [unknown("clam", Some("claim"))]);
        assert_eq!(parse("/owp claimed"), [unknown("claimed", Some("claim"))]);
        assert_eq!(parse("/owp relase"), [unknown("relase", Some("release"))]);
        assert_eq!(parse("/owp unblok"), [unknown("unblok", Some("unblock"))]);
        assert_eq!(parse("/owp stauts"), [unknown("stauts", Some("status"))]);
        assert_eq!(parse("/owp Renw"), [unknown("renw", Some("renew"))]);
    }

    #[test]
    fn unknown_word_far_from_every_command_has_no_suggestion() {
        assert_eq!(parse("/owp deploy"), [unknown("deploy", None)]);
        assert_eq!(parse("/owp help"), [unknown("help", None)]);
    }

    #[test]
    fn other_prefixes_are_not_ours() {
        assert!(parse("/owpclaim").is_empty());
        assert!(parse("/owp-bot claim").is_empty());
        assert!(parse("owp claim").is_empty());
        assert!(parse("@owp claim").is_empty());
        assert!(parse("/ow claim").is_empty());
    }

    #[test]
    fn a_command_must_start_its_line() {
        assert!(parse("Could someone /owp claim this?").is_empty());
        assert!(parse("I will not /owp release").is_empty());
    }

    // --- several lines ----------------------------------------------------------------------

    #[test]
    fn one_command_per_line() {
        assert_eq!(
            ok("/owp claim\n/owp status\n"),
            [Command::Claim, Command::Status]
        );
    }

    #[test]
    fn two_commands_on_one_line_are_refused() {
        assert_eq!(
            parse("/owp claim /owp status"),
            [Err(CommandError::UnexpectedArguments {
                command: "claim",
                arguments: "/owp status".into()
            })]
        );
    }

    #[test]
    fn commands_among_prose() {
        let body = "Thanks for filing this!\n\n/owp claim\nI'll start tomorrow.\n\n\
                    Also:\n\n/owp status";
        assert_eq!(ok(body), [Command::Claim, Command::Status]);
    }

    #[test]
    fn windows_line_endings() {
        assert_eq!(
            ok("hello\r\n/owp claim\r\n/owp renew\r\n"),
            [Command::Claim, Command::Renew]
        );
    }

    #[test]
    fn commands_in_list_items_and_headings_count() {
        assert_eq!(ok("- /owp claim"), [Command::Claim]);
        assert_eq!(ok("1. /owp status"), [Command::Status]);
        assert_eq!(ok("## /owp renew"), [Command::Renew]);
    }

    #[test]
    fn emphasis_does_not_hide_a_command() {
        assert_eq!(ok("**/owp claim**"), [Command::Claim]);
        assert_eq!(ok("_/owp release_"), [Command::Release]);
    }

    #[test]
    fn hard_break_separates_lines() {
        assert_eq!(
            ok("/owp claim  \n/owp status"),
            [Command::Claim, Command::Status]
        );
        assert_eq!(
            ok("/owp claim\\\n/owp status"),
            [Command::Claim, Command::Status]
        );
    }

    // --- what is not a command --------------------------------------------------------------

    #[test]
    fn fenced_code_blocks_are_ignored() {
        assert!(parse("```\n/owp claim\n```").is_empty());
        assert!(parse("~~~text\n/owp claim\n~~~").is_empty());
        assert_eq!(ok("```\n/owp claim\n```\n/owp status"), [Command::Status]);
    }

    #[test]
    fn unclosed_fence_hides_the_rest() {
        assert!(parse("```\n/owp claim\n/owp status").is_empty());
    }

    #[test]
    fn indented_code_blocks_are_ignored() {
        assert!(parse("Example:\n\n    /owp claim\n").is_empty());
        assert!(parse("\t/owp claim").is_empty());
    }

    #[test]
    fn block_quotes_are_ignored() {
        assert!(parse("> /owp claim").is_empty());
        assert!(parse("> quoting you:\n> /owp release").is_empty());
        assert!(parse("> > /owp claim").is_empty());
        assert_eq!(ok("> /owp claim\n\n/owp status"), [Command::Status]);
    }

    #[test]
    fn lazy_quote_continuation_is_still_a_quote() {
        // CommonMark: a paragraph line after `>` without its own `>` continues the quote.
        assert!(parse("> they said\n/owp claim").is_empty());
    }

    #[test]
    fn inline_code_is_ignored() {
        assert!(parse("`/owp claim`").is_empty());
        assert!(parse("Type `/owp claim` to take it.").is_empty());
        assert!(parse("``/owp claim``").is_empty());
    }

    #[test]
    fn links_are_ignored() {
        assert!(parse("[/owp claim](https://example.org)").is_empty());
        assert!(parse("[/owp claim][ref]\n\n[ref]: https://example.org").is_empty());
        assert!(parse("![/owp claim](https://example.org/x.png)").is_empty());
    }

    #[test]
    fn html_and_comments_are_ignored() {
        assert!(parse("<!-- /owp claim -->").is_empty());
        assert!(parse("<details>\n/owp claim\n</details>").is_empty());
        assert!(parse("<b>/owp claim</b>").is_empty());
    }

    #[test]
    fn struck_out_commands_are_ignored() {
        assert!(parse("~~/owp claim~~").is_empty());
        assert!(parse("~/owp claim~").is_empty());
    }

    #[test]
    fn tables_are_ignored() {
        let table = "| command | what |\n|---|---|\n| /owp claim | take it |";
        assert!(parse(table).is_empty());
    }

    #[test]
    fn escaped_slash_still_reads_as_a_command() {
        // `\/` is an escaped `/` in markdown and renders as `/owp claim`.
        assert_eq!(ok("\\/owp claim"), [Command::Claim]);
    }

    #[test]
    fn empty_and_plain_bodies_have_no_commands() {
        assert!(parse("").is_empty());
        assert!(parse("LGTM").is_empty());
        assert!(parse("\n\n\n").is_empty());
    }

    // --- edits ------------------------------------------------------------------------------

    #[test]
    fn edit_returns_only_added_commands() {
        assert_eq!(
            new_commands("/owp claim", "/owp claim\n/owp status"),
            [Ok(Command::Status)]
        );
    }

    #[test]
    fn edit_of_prose_around_a_command_runs_nothing() {
        assert!(new_commands("/owp claim\nTypo hre", "/owp claim\nTypo here").is_empty());
        assert!(new_commands("/owp claim", "Tomorrow:\n\n/owp   claim").is_empty());
    }

    #[test]
    fn edit_that_fixes_a_typo_runs_the_fixed_command() {
        assert_eq!(
            new_commands("/owp clam", "/owp claim"),
            [Ok(Command::Claim)]
        );
    }

    #[test]
    fn edit_that_repeats_a_command_runs_it_once_more() {
        assert_eq!(
            new_commands("/owp renew", "/owp renew\n/owp renew"),
            [Ok(Command::Renew)]
        );
    }

    #[test]
    fn edit_that_removes_commands_runs_nothing() {
        assert!(new_commands("/owp claim\n/owp status", "never mind").is_empty());
    }

    #[test]
    fn edit_moving_a_command_out_of_a_code_block_runs_it() {
        assert_eq!(
            new_commands("```\n/owp claim\n```", "/owp claim"),
            [Ok(Command::Claim)]
        );
    }

    #[test]
    fn edit_keeps_new_errors() {
        assert_eq!(
            new_commands("/owp claim", "/owp claim\n/owp block"),
            [Err(CommandError::MissingReason)]
        );
    }

    #[test]
    fn changing_a_block_reason_is_a_new_command() {
        assert_eq!(
            new_commands("/owp block a", "/owp block b"),
            [Ok(Command::Block { reason: "b".into() })]
        );
    }

    // --- helpers ----------------------------------------------------------------------------

    #[test]
    fn maintainer_commands() {
        assert!(Command::Block { reason: "x".into() }.requires_maintainer());
        assert!(Command::Unblock.requires_maintainer());
        for c in [
            Command::Claim,
            Command::Release,
            Command::Renew,
            Command::Status,
            Command::Link { code: "x".into() },
        ] {
            assert!(!c.requires_maintainer(), "{c}");
        }
    }

    #[test]
    fn display_is_the_typed_form() {
        assert_eq!(Command::Claim.to_string(), "/owp claim");
        assert_eq!(
            Command::Block {
                reason: "needs design".into()
            }
            .to_string(),
            "/owp block needs design"
        );
        assert_eq!(
            Command::Link {
                code: "SECRET1".into()
            }
            .to_string(),
            "/owp link"
        );
    }

    #[test]
    fn did_you_mean_needs_a_close_word() {
        assert_eq!(did_you_mean("CLAIM"), Some("claim"));
        assert_eq!(did_you_mean("unblck"), Some("unblock"));
        assert_eq!(did_you_mean("zzzzzz"), None);
    }

    #[test]
    fn multibyte_text_never_panics() {
        assert!(parse("/ö").is_empty());
        assert!(parse("/owp🎉").is_empty());
        assert_eq!(parse("/owp 🎉"), [unknown("🎉", None)]);
        assert!(parse("é/owp claim").is_empty());
    }

    #[test]
    fn reviewers_commands_are_bounded() {
        let one = |line: &str| parse_line(line).expect("a command line");
        assert_eq!(one("/owp away"), Ok(Command::Away { days: None }));
        assert_eq!(one("/owp away 7"), Ok(Command::Away { days: Some(7) }));
        assert_eq!(one("/owp away 365"), Ok(Command::Away { days: Some(365) }));
        for bad in ["0", "366", "-1", "7 days", "soon", "99999999999"] {
            assert_eq!(
                one(&format!("/owp away {bad}")),
                Err(CommandError::InvalidAwayDays { found: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(one("/owp back"), Ok(Command::Back));
        assert!(matches!(
            one("/owp back now"),
            Err(CommandError::UnexpectedArguments { .. })
        ));
        assert_eq!(
            one("/owp review @bob"),
            Ok(Command::Review {
                login: "bob".into()
            })
        );
        assert_eq!(
            one("/owp review Bob-2"),
            Ok(Command::Review {
                login: "Bob-2".into()
            })
        );
        assert_eq!(one("/owp review"), Err(CommandError::MissingReviewer));
        assert_eq!(
            one("/owp review @bob!"),
            Err(CommandError::InvalidReviewer {
                found: "@bob!".into()
            })
        );
        assert!(matches!(
            one("/owp review @bob @carol"),
            Err(CommandError::UnexpectedArguments { .. })
        ));
        assert!(
            Command::Review {
                login: "bob".into()
            }
            .requires_maintainer()
        );
        assert!(!Command::Away { days: None }.requires_maintainer());
        assert_eq!(did_you_mean("reveiw"), Some("review"));
    }
}

#[cfg(test)]
mod vouch_tests {
    use super::*;

    fn one(body: &str) -> ParsedCommand {
        parse_commands(body).remove(0)
    }

    #[test]
    fn vouch_commands_take_one_login_and_a_bounded_reason() {
        assert_eq!(
            one("/owp vouch @Ada"),
            Ok(Command::Vouch {
                login: "ada".into()
            })
        );
        assert_eq!(
            one("/owp unvouch ada"),
            Ok(Command::Unvouch {
                login: "ada".into()
            })
        );
        assert_eq!(
            one("/owp denounce @eve  spam   pull requests"),
            Ok(Command::Denounce {
                login: "eve".into(),
                reason: Some("spam pull requests".into())
            })
        );
        assert_eq!(
            one("/owp denounce @eve"),
            Ok(Command::Denounce {
                login: "eve".into(),
                reason: None
            })
        );
        assert_eq!(
            one("/owp vouch"),
            Err(CommandError::MissingLogin { command: "vouch" })
        );
        assert_eq!(
            one("/owp vouch not_a_login"),
            Err(CommandError::MissingLogin { command: "vouch" })
        );
        assert!(matches!(
            one("/owp vouch @ada @bob"),
            Err(CommandError::UnexpectedArguments { .. })
        ));
        let long = format!("/owp denounce @eve {}", "x".repeat(201));
        assert_eq!(one(&long), Err(CommandError::ReasonTooLong));
        assert!(
            Command::Denounce {
                login: "eve".into(),
                reason: Some("secret".into())
            }
            .requires_maintainer()
        );
        assert_eq!(
            Command::Denounce {
                login: "eve".into(),
                reason: Some("secret".into())
            }
            .to_string(),
            "/owp denounce eve"
        );
    }
}
