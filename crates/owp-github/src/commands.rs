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
//! /owp approve @LOGIN   (maintainers: approve that person's plan for this issue)
//! /owp decline @LOGIN [REASON]   (maintainers: decline that person's plan)
//! /owp withdraw         (take back one's own plan for this issue)
//! ```
//!
//! In a repository that takes a plan first, the lines after `/owp claim` in the same comment are
//! the plan ([`plan_after_claim`]).
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
    /// Maintainers: approve the open plan (proposal) of a login for this issue (rule 11).
    Approve { login: String },
    /// Maintainers: decline the open plan of a login for this issue, with an optional reason
    /// (told to the proposer).
    Decline {
        login: String,
        reason: Option<String>,
    },
    /// Take back one's own open plan for this issue.
    Withdraw,
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
            Command::Approve { .. } => "approve",
            Command::Decline { .. } => "decline",
            Command::Withdraw => "withdraw",
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
                | Command::Approve { .. }
                | Command::Decline { .. }
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
            Command::Approve { login } => write!(f, "{COMMAND_PREFIX} approve {login}"),
            // A decline's reason is told to the proposer, not repeated here.
            Command::Decline { login, .. } => write!(f, "{COMMAND_PREFIX} decline {login}"),
            other => write!(f, "{COMMAND_PREFIX} {}", other.name()),
        }
    }
}

/// The command words, in the order they are suggested.
pub const COMMAND_WORDS: [&str; 18] = [
    "claim", "release", "renew", "status", "block", "unblock", "link", "opt-in", "opt-out", "away",
    "back", "review", "vouch", "unvouch", "denounce", "approve", "decline", "withdraw",
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
    /// `/owp decline @login REASON` with a reason longer than the pool keeps.
    #[error(
        "the reason is longer than {} characters",
        crate::domain::proposals::MAX_DECLINE_REASON_CHARS
    )]
    DeclineReasonTooLong,
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
        "approve" | "decline" => parse_answer(word, args),
        "withdraw" => no_args(Command::Withdraw),
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
    if crate::repo_config::is_github_login(login) && !login.ends_with("[bot]") {
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

/// `/owp approve @login`, `/owp decline @login [reason]`: one login (the `@` is optional), and
/// for a decline a reason of at most [`crate::domain::proposals::MAX_DECLINE_REASON_CHARS`]
/// characters.
fn parse_answer(word: &str, args: &str) -> ParsedCommand {
    let command = if word == "approve" {
        "approve"
    } else {
        "decline"
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
    if command == "approve" {
        return if rest.is_empty() {
            Ok(Command::Approve { login })
        } else {
            Err(CommandError::UnexpectedArguments {
                command,
                arguments: rest,
            })
        };
    }
    if rest.chars().count() > crate::domain::proposals::MAX_DECLINE_REASON_CHARS {
        return Err(CommandError::DeclineReasonTooLong);
    }
    Ok(Command::Decline {
        login,
        reason: (!rest.is_empty()).then_some(rest),
    })
}

/// The plan of a `/owp claim` comment: the text on the lines after its first `/owp claim` line,
/// without control characters but line breaks and tabs (as the store keeps a plan), trimmed;
/// `None` when nothing is left.
pub fn plan_after_claim(body: &str) -> Option<String> {
    let mut lines = body.lines();
    lines.find(|line| matches!(parse_line(line), Some(Ok(Command::Claim))))?;
    let plan: String = lines
        .collect::<Vec<_>>()
        .join("\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\t') || !c.is_control())
        .collect();
    let plan = plan.trim();
    (!plan.is_empty()).then(|| plan.to_string())
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
mod tests;
