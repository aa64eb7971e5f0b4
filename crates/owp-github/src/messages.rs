//! Every comment the App writes on GitHub, in one place.
//!
//! Maintainers and contributors read these texts: they are the App's user interface. Each function
//! returns the markdown body of one comment; the snapshot tests at the bottom show every text.
//!
//! A task's status comment starts with its hidden marker, and [`with_comment_marker`] ends any other
//! comment with one ([`crate::domain::markers`]): that is how the App finds its own comments again.
//!
//! Text written by people (a block reason, a label) is quoted with [`neutralize`], so that it can
//! neither mention anyone nor break the markup.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::commands::{COMMAND_PREFIX, Command, CommandError};
use crate::domain::markers::{comment_marker, marker_safe, status_marker};
use crate::domain::model::{Priority, TaskStatus};
use crate::domain::rules::review_slots_used;

/// `body` with a hidden marker naming it (an outbox id, say) appended.
pub fn with_comment_marker(body: &str, id: &str) -> String {
    let marker = comment_marker(id);
    let body = fit_comment(body.trim_end(), COMMENT_LIMIT - marker.chars().count() - 2);
    format!("{body}\n\n{marker}")
}

/// GitHub refuses a comment body longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// At most this many characters of someone else's text (a reason, a settings error) are repeated.
pub const MAX_QUOTED_CHARS: usize = 1_000;

/// At most this many characters of an echoed command word or argument are repeated.
pub const MAX_ECHO_CHARS: usize = 100;

/// `text` cut to `max` characters, with `…` where it was cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Makes text written by someone else safe to repeat in a comment: on one line, at most
/// [`MAX_QUOTED_CHARS`] long, with mentions (`@name`) and issue links (`#1`) defused, no HTML,
/// and no live Markdown (images, links, emphasis, bare URLs) outside its code spans. A code span
/// (text between a pair of backticks) is kept as it is: nothing inside one is rendered.
pub fn neutralize(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let one_line = shorten(&one_line, MAX_QUOTED_CHARS);
    let pieces: Vec<&str> = one_line.split('`').collect();
    let last = pieces.len() - 1;
    // With an odd number of backticks the last one has no partner: it is escaped as text.
    let unpaired = last % 2 == 1;
    let mut out = String::with_capacity(one_line.len() + 16);
    for (i, piece) in pieces.iter().enumerate() {
        let after_unpaired = unpaired && i == last;
        if i > 0 {
            out.push_str(if after_unpaired { "\\`" } else { "`" });
        }
        if i % 2 == 1 && !after_unpaired {
            out.push_str(piece);
        } else {
            escape_prose(piece, &mut out);
        }
    }
    out
}

fn escape_prose(text: &str, out: &mut String) {
    let mut previous = ' ';
    for c in text.chars() {
        match c {
            // A zero-width space after `@` or `#` keeps the text readable but stops GitHub from
            // turning it into a mention or a cross-reference.
            '@' | '#' => {
                out.push(c);
                out.push('\u{200B}');
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '*' | '_' | '[' | ']' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // `https://…` and `www.…` would become links: a zero-width space breaks them.
            '/' if previous == ':' => {
                out.push('\u{200B}');
                out.push(c);
            }
            '.' if out.ends_with("www") => {
                out.push('\u{200B}');
                out.push(c);
            }
            _ => out.push(c),
        }
        previous = c;
    }
}

/// A comment body GitHub accepts: at most `limit` characters, cut at a line end when it is
/// longer, with an open code fence closed and a note that it was shortened.
pub fn fit_comment(body: &str, limit: usize) -> String {
    const NOTE: &str = "\n\n_(shortened: the full text was too long for a comment)_";
    if body.chars().count() <= limit {
        return body.to_string();
    }
    let room = limit.saturating_sub(NOTE.len() + 8);
    let cut = body.char_indices().nth(room).map_or(body.len(), |(i, _)| i);
    let mut kept = &body[..cut];
    if let Some(line_end) = kept.rfind('\n') {
        kept = &kept[..line_end];
    }
    let mut out = kept.to_string();
    if out.matches("```").count() % 2 == 1 {
        out.push_str("\n```");
    }
    out.push_str(NOTE);
    out
}

fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

// ------------------------------------------------------------------------------------------------
// The living status comment
// ------------------------------------------------------------------------------------------------

/// Who holds a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A person who claimed by comment (an implicit worker of their login).
    Person { login: String },
    /// A registered worker, with the GitHub login it is linked to, if any.
    Worker { name: String, login: Option<String> },
}

impl Holder {
    fn describe(&self) -> String {
        match self {
            Holder::Person { login } => format!("@{login}"),
            Holder::Worker {
                name,
                login: Some(login),
            } => format!("worker `{}` (@{login})", neutralize_code(name)),
            Holder::Worker { name, login: None } => format!("worker `{}`", neutralize_code(name)),
        }
    }
}

/// Someone else's word for a code span: no backticks, one line, at most [`MAX_ECHO_CHARS`], and
/// no HTML comment opening (which could pass for one of the App's markers).
fn neutralize_code(name: &str) -> String {
    let one_line = name
        .replace('`', "'")
        .replace("<!--", "<!- -")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    shorten(&one_line, MAX_ECHO_CHARS)
}

/// A repository's review budget at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub open_prs: u32,
    pub active_leases: u32,
    pub max_open_prs: u32,
    /// No new claim fits: the claim's own condition (rule 6) fails, as the store read it
    /// (`RepoRow::throttled`, or the refusal of a claim).
    pub full: bool,
}

impl Budget {
    /// Slots in use.
    pub fn used(&self) -> u32 {
        let used = review_slots_used(self.open_prs.into(), self.active_leases.into());
        u32::try_from(used).unwrap_or(u32::MAX)
    }

    /// "N of M review slots used", as shown by the status comment and the dashboard.
    pub fn summary(&self) -> String {
        format!("{} of {} review slots used", self.used(), self.max_open_prs)
    }
}

/// Everything the status comment shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub task_id: String,
    pub status: TaskStatus,
    pub holder: Option<Holder>,
    /// When the current holder took the task.
    pub since: Option<DateTime<Utc>>,
    /// When the current claim or lease ends unless renewed.
    pub until: Option<DateTime<Utc>>,
    pub pr_url: Option<String>,
    /// Why the task is blocked or left the pool.
    pub reason: Option<String>,
    /// The GitHub login of the maintainer who blocked it, when a person did.
    pub blocked_by: Option<String>,
    pub estimate_points: i64,
    pub priority: Priority,
    pub required_skills: Vec<String>,
    pub area: Option<String>,
    pub tier: i64,
    pub budget: Budget,
    /// Labels that were ignored or overruled (from `domain::labels::LabelWarning`'s `Display`).
    pub label_warnings: Vec<String>,
    /// Why the repository's `.github/owp.yml` is not in use, and why a vouch list of it is not
    /// wholly applied, one problem a line (see `RepoSettings::error`).
    pub config_error: Option<String>,
    /// Open pull requests that link the issue but do not act on it: (URL as GitHub gave it,
    /// author).
    pub other_prs: Vec<(String, String)>,
    /// The combined checks of the pull request's head (`pending`, `success`, `failure`), when
    /// GitHub reported any.
    pub checks: Option<String>,
    /// Where the commands are explained.
    pub help_url: String,
    /// The issues it waits for while `ready`, as written on this issue (`#12`, `owner/other#3`).
    pub waiting_on: Vec<String>,
    /// While `ready`: work in flight on an overlapping path (rule 10), as (issue as written on
    /// this issue, the pattern it holds).
    pub path_holds: Vec<(String, String)>,
    /// Which tool made the pull request, as its worker disclosed it ("claude (opus)").
    pub made_with: Option<String>,
    /// The repository's contract requires a disclosure, and the open pull request has none.
    pub disclosure_missing: bool,
    /// What the worker reported running before it opened its pull request
    /// (`artifact.evidence`), shown as its own report.
    pub evidence: Option<crate::domain::evidence::Shown>,
    /// What GitHub says of the pull request's commits, where the repository asks its holder for
    /// verified commits (`artifact.commits`).
    pub commits: Option<pull_ready::Commits>,
    /// Who reviews the open pull request (rule 13), while it is open.
    pub reviewer: Option<String>,
    /// While `ready`, in a repository that takes a plan first: the open proposals, oldest
    /// first, for maintainers to choose from (rule 11).
    pub proposals: Vec<proposals::ShownProposal>,
    /// The repository takes a plan first (rule 11): the ready line says how to propose.
    pub plan_first: bool,
}

/// The notes of the repository's settings files (`error`, one problem a line): for
/// `.github/owp.yml`, that it could not be used, with its one problem in the sentence or each
/// problem in a list under it; for a vouch list, what of it is not applied; for a listed
/// reviewer, why they are not counted.
fn settings_error_note(error: &str) -> String {
    let (file, lists): (Vec<&str>, Vec<&str>) = error
        .lines()
        .filter(|l| !l.trim().is_empty())
        .partition(|l| l.starts_with(crate::repo_config::CONFIG_PATH));
    let lead = "The repository's settings file could not be used, so the last good settings apply";
    let mut note = match file.as_slice() {
        [] => String::new(),
        [one] => format!("\n> [!WARNING]\n> {lead}: {}\n", neutralize(one)),
        many => {
            let mut note =
                format!("\n> [!WARNING]\n> {lead}. Each line that was not understood:\n");
            for problem in many {
                let _ = writeln!(note, "> - {}", neutralize(problem));
            }
            note
        }
    };
    for list in lists {
        let lead = match list.strip_prefix(REVIEWER_PROBLEM) {
            Some(_) => "A reviewer is not counted",
            None => "A vouch list is not wholly applied",
        };
        let _ = write!(note, "\n> [!WARNING]\n> {lead}: {}\n", neutralize(list));
    }
    note
}

/// How a problem of a listed reviewer starts (`store::github::reviewers`).
const REVIEWER_PROBLEM: &str = "review.reviewers: ";

/// The living status comment of a task.
pub fn status_comment(view: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", status_marker(&view.task_id));
    let _ = writeln!(out, "**OWP Pool** · task `{}`", marker_safe(&view.task_id));
    out.push('\n');
    out.push_str(&status_line(view));
    if let Some(line) = reviewers::reviewer_line(view) {
        out.push_str(&line);
    }
    out.push_str("\n\n");
    out.push_str(&fields_line(view));
    out.push('\n');
    out.push_str(&budget_line(view.budget));
    out.push('\n');
    for warning in &view.label_warnings {
        let _ = write!(out, "\n> [!WARNING]\n> {}\n", neutralize(warning));
    }
    if let Some(error) = &view.config_error {
        out.push_str(&settings_error_note(error));
    }
    if let Some(evidence) = view.evidence.as_ref().filter(|e| !e.runs.is_empty()) {
        let _ = write!(out, "\n{}\n", pull_ready::evidence_line(evidence));
    }
    if view.disclosure_missing && view.status == TaskStatus::PrOpened {
        let who = view
            .holder
            .as_ref()
            .map_or_else(|| "The author".to_string(), Holder::describe);
        let _ = write!(
            out,
            "\n> [!NOTE]\n> This repository asks every pull request to say which tool made it. \
             {who}, please say so in the pull request's description (for example \
             `Made with: TOOL`, or `Made with: none` for work done by hand).\n"
        );
    }
    if !view.other_prs.is_empty() {
        let listed: Vec<String> = view
            .other_prs
            .iter()
            .take(10)
            .map(|(url, author)| format!("{url} by `{}`", neutralize_code(author)))
            .collect();
        let more = view.other_prs.len().saturating_sub(listed.len());
        let _ = write!(
            out,
            "\n> [!NOTE]\n> Also linked, but not acting on this task (not the holder's, or a \
             draft): {}{}. For maintainers to look at; they end no claim and take no review slot.\n",
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    if view.status == TaskStatus::Ready {
        out.push_str(&proposals::proposals_section(&view.proposals));
    }
    let _ = write!(
        out,
        "\n<sub>Commands: `/owp claim` · `/owp release` · `/owp renew` · `/owp status` — \
         [how this works]({})</sub>\n",
        view.help_url
    );
    fit_comment(&out, COMMENT_LIMIT)
}

fn status_line(view: &StatusView) -> String {
    let holder = view
        .holder
        .as_ref()
        .map_or_else(|| "someone".to_string(), Holder::describe);
    let since = view
        .since
        .map(|t| format!(" since {}", format_time(t)))
        .unwrap_or_default();
    let until = view
        .until
        .map(|t| format!(" The claim runs until {}.", format_time(t)))
        .unwrap_or_default();
    let reason = view
        .reason
        .as_deref()
        .map(|r| format!(": {}", neutralize(r)))
        .unwrap_or_default();
    let made_with = view
        .made_with
        .as_deref()
        .map(|tool| format!(", made with `{}`", neutralize_code(tool)))
        .unwrap_or_default();
    match view.status {
        TaskStatus::Ready if !view.waiting_on.is_empty() => format!(
            "**Waiting on {}** — it can be claimed once {} closed.{}",
            waiting_list(&view.waiting_on),
            if view.waiting_on.len() == 1 {
                "it is"
            } else {
                "they are"
            },
            if view.path_holds.is_empty() {
                String::new()
            } else {
                format!(
                    " It also changes the same files as work in flight: {}.",
                    paths_waiting(&view.path_holds)
                )
            }
        ),
        TaskStatus::Ready if !view.path_holds.is_empty() => format!(
            "**Waiting:** {} — it can be claimed once that work is merged, closed or given back.",
            paths_waiting(&view.path_holds)
        ),
        TaskStatus::Ready if view.plan_first => "**Ready** — this repository takes a plan first: \
            comment `/owp claim` with your plan on the lines after it, and a maintainer approves \
            one."
            .to_string(),
        TaskStatus::Ready => "**Ready** — comment `/owp claim` to take this issue.".to_string(),
        TaskStatus::Leased => format!(
            "**Offered** to {holder}{since}, waiting for it to start.{}",
            view.until
                .map(|t| format!(
                    " If it has not started by {}, the issue is free again.",
                    format_time(t)
                ))
                .unwrap_or_default()
        ),
        TaskStatus::InProgress => format!("**In progress** — claimed by {holder}{since}.{until}"),
        TaskStatus::PrOpened => {
            let checks = pull_ready::readiness(view.checks.as_deref(), view.commits.as_ref());
            match &view.pr_url {
                Some(url) => {
                    format!("**Pull request open** — {url} by {holder}{made_with}.{checks}")
                }
                None => format!("**Pull request open** by {holder}{made_with}.{checks}"),
            }
        }
        TaskStatus::Merged => match (&view.pr_url, &view.holder) {
            (Some(url), Some(_)) => {
                format!("**Done** — merged in {url}. Thank you! Credited to {holder}{made_with}.")
            }
            (Some(url), None) => format!("**Done** — merged in {url}{made_with}. Thank you!"),
            (None, Some(_)) => {
                format!("**Done** — merged. Thank you! Credited to {holder}{made_with}.")
            }
            (None, None) => "**Done** — merged. Thank you!".to_string(),
        },
        TaskStatus::Blocked => format!(
            "**Blocked** by {}{reason}. A maintainer can comment `/owp unblock` to make it ready again.",
            view.blocked_by.as_deref().map_or_else(
                || "a maintainer".to_string(),
                |login| format!("maintainer `{}`", neutralize_code(login))
            )
        ),
        TaskStatus::Cancelled => format!("**Not in the pool**{reason}."),
    }
}

fn fields_line(view: &StatusView) -> String {
    let mut parts = vec![
        format!(
            "Estimate: {}",
            if view.estimate_points == 1 {
                "1 point".to_string()
            } else {
                format!("{} points", view.estimate_points)
            }
        ),
        format!("Priority: {}", view.priority.as_str()),
    ];
    if !view.required_skills.is_empty() {
        let skills: Vec<String> = view.required_skills.iter().map(|s| neutralize(s)).collect();
        parts.push(format!("Skills: {}", skills.join(", ")));
    }
    if let Some(area) = &view.area {
        parts.push(format!("Area: {}", neutralize(area)));
    }
    if view.tier > 0 {
        parts.push(format!("Tier: {}", view.tier));
    }
    parts.join(" · ")
}

fn budget_line(budget: Budget) -> String {
    let mut line = format!("Review budget: {}", budget.summary());
    if budget.used() > 0 {
        let _ = write!(
            line,
            " ({} open, {} in progress)",
            plural(budget.open_prs, "pull request", "pull requests"),
            plural(budget.active_leases, "claim", "claims")
        );
    }
    if budget.full {
        line.push_str(" — full: new claims wait until a pull request is merged or closed.");
    } else {
        line.push('.');
    }
    line
}

// ------------------------------------------------------------------------------------------------
// Refused claims
// ------------------------------------------------------------------------------------------------

mod refusals;
pub use refusals::{
    ClaimRefusal, claim_refused, issue_ref, paths_waiting, refusal_reason, waiting_list,
};

/// A task status in the words of a sentence ("this task is …").
fn status_words(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Ready => "ready",
        TaskStatus::Leased => "offered to a worker",
        TaskStatus::InProgress => "in progress",
        TaskStatus::PrOpened => "waiting on its open pull request",
        TaskStatus::Merged => "already done",
        TaskStatus::Blocked => "already blocked",
        TaskStatus::Cancelled => "no longer in the pool",
    }
}

// ------------------------------------------------------------------------------------------------
// Reminders and expiry
// ------------------------------------------------------------------------------------------------

/// `/owp release` in a repository with a cool-down (`claim.cooldown_hours`): the claim is given
/// back, and the person learns when they may claim here again.
pub fn released_cooling_down(login: &str, hours: u32, until: DateTime<Utc>) -> String {
    format!(
        "@{login}, released — thank you. This repository asks for a pause of {hours} hours after \
         a claim ends without a pull request: you can claim here again after {}.",
        format_time(until)
    )
}

/// Half-time reminder for a comment claim.
pub fn claim_reminder(login: &str, expires_at: DateTime<Utc>) -> String {
    format!(
        "@{login}, a reminder: you claimed this issue, and there has been no activity on it for a while. \
         Your claim ends at {} unless you comment here, open a pull request that fixes it, \
         or comment `/owp renew`. If you can't go on, `/owp release` frees it for someone else \
         — thank you either way!",
        format_time(expires_at)
    )
}

/// The claim ended for lack of activity.
pub fn claim_expired(login: &str, ttl_days: u32) -> String {
    format!(
        "@{login}, your claim on this issue ended after {} without activity, so it is free for \
         others again. If you are still on it and nobody else has claimed it, \
         comment `/owp claim` to take it back.",
        plural(ttl_days, "day", "days")
    )
}

/// The issue left the pool (closed, or its ready label removed) while someone holds it: the task
/// stays theirs until they finish or let go, and then leaves the pool.
pub fn left_pool_while_held(login: Option<&str>, why: &str) -> String {
    let who = login.map(|l| format!("@{l}, ")).unwrap_or_default();
    format!(
        "{who}this issue left the pool ({}) while you hold it. Your claim stays until you finish \
         or comment `/owp release`; after that the issue is no longer offered.",
        neutralize(why)
    )
}

/// The warning a status comment shows while a held task's issue is out of the pool.
/// The status comment's note that an issue left the pool (shown among the warnings, which are
/// neutralized there).
pub fn left_pool_note(why: &str) -> String {
    format!("This issue left the pool ({why}); the task ends when its holder finishes or lets go.")
}

// ------------------------------------------------------------------------------------------------
// Command replies
// ------------------------------------------------------------------------------------------------

/// A command that needs write access was used by someone without it.
pub fn permission_refused(login: &str, command: &Command) -> String {
    format!(
        "@{login}, only maintainers (people with write access or above) can use \
         `{COMMAND_PREFIX} {}`, so I did nothing.",
        command.name()
    )
}

/// The answer to `/owp opt-in` (`on`) or `/owp opt-out`.
pub fn opted_in(login: &str, on: bool) -> String {
    if on {
        format!(
            "@{login}, you opted in: your merged pull requests in the pool now count toward the \
             trust rules of each repository (`trust.promote`), and you are listed on the \
             leaderboard. `{COMMAND_PREFIX} opt-out` undoes it."
        )
    } else {
        format!(
            "@{login}, you opted out: your outcomes no longer earn trust and you are not listed \
             on the leaderboard. `{COMMAND_PREFIX} opt-in` turns it back on."
        )
    }
}

/// A line starting with `/owp` that is not a command we can run.
pub fn command_error(login: &str, error: &CommandError, help_url: &str) -> String {
    let help = format!("The commands are explained [here]({help_url}).");
    let what = match error {
        CommandError::MissingCommand => format!(
            "`{COMMAND_PREFIX}` needs a command after it, for example `{COMMAND_PREFIX} claim`."
        ),
        CommandError::UnknownCommand {
            word,
            did_you_mean: Some(suggestion),
        } => format!(
            "I don't know the command `{COMMAND_PREFIX} {}`. Did you mean `{COMMAND_PREFIX} {suggestion}`?",
            neutralize_code(word)
        ),
        CommandError::UnknownCommand {
            word,
            did_you_mean: None,
        } => format!(
            "I don't know the command `{COMMAND_PREFIX} {}`.",
            neutralize_code(word)
        ),
        CommandError::MissingReason => format!(
            "`{COMMAND_PREFIX} block` needs a reason, for example \
             `{COMMAND_PREFIX} block waiting for the API design`."
        ),
        CommandError::MissingLinkCode => format!(
            "`{COMMAND_PREFIX} link` needs the code that `owp worker link` printed, \
             for example `{COMMAND_PREFIX} link 7GQ4-KM2P`."
        ),
        CommandError::InvalidLinkCode { .. } => format!(
            "that is not a link code; copy the code exactly as `owp worker link` printed it \
             into `{COMMAND_PREFIX} link CODE`."
        ),
        CommandError::UnexpectedArguments { command, arguments } => format!(
            "`{COMMAND_PREFIX} {command}` takes no further words (found `{}`), so I did nothing. \
             Comment `{COMMAND_PREFIX} {command}` on a line of its own.",
            neutralize_code(arguments)
        ),
        CommandError::InvalidAwayDays { found } => format!(
            "`{COMMAND_PREFIX} away` takes a number of days from 1 to {} (found `{}`), or \
             nothing to stay away until `{COMMAND_PREFIX} back`, so I did nothing.",
            crate::commands::MAX_AWAY_DAYS,
            neutralize_code(found)
        ),
        CommandError::MissingReviewer => format!(
            "`{COMMAND_PREFIX} review` needs the reviewer's login, for example \
             `{COMMAND_PREFIX} review @octocat`."
        ),
        CommandError::InvalidReviewer { found } => format!(
            "`{}` is not a GitHub login, so I did nothing; write \
             `{COMMAND_PREFIX} review @LOGIN`.",
            neutralize_code(found)
        ),
        CommandError::MissingLogin { command } => format!(
            "`{COMMAND_PREFIX} {command}` needs one GitHub login, for example \
             `{COMMAND_PREFIX} {command} @octocat`."
        ),
        CommandError::DeclineReasonTooLong => format!(
            "the reason of `{COMMAND_PREFIX} decline` is kept to {} characters; shorten it.",
            crate::domain::proposals::MAX_DECLINE_REASON_CHARS
        ),
        CommandError::ReasonTooLong => format!(
            "the reason of `{COMMAND_PREFIX} denounce` is kept to {} characters; shorten it.",
            crate::domain::vouch::MAX_REASON_CHARS
        ),
    };
    format!("@{login}, {what} {help}")
}

/// Why a well-formed command other than claim could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRefusal {
    /// `release` or `renew` by someone who does not hold the task.
    NotHolder { command: &'static str },
    /// `unblock` on a task that is not blocked.
    NotBlocked,
    /// `block` on a task that is already done or out of the pool.
    NotBlockable { status: TaskStatus },
    /// The issue is not a task.
    NotATask { ready_label: String },
    /// `/owp link` with a code that is unknown, used or expired.
    UnknownLinkCode,
    /// `/owp link` with a code of a worker already linked to another login.
    WorkerLinkedElsewhere,
}

/// The reply to a command that could not be carried out.
pub fn command_refused(login: &str, refusal: &CommandRefusal) -> String {
    let why = match refusal {
        CommandRefusal::NotHolder { command } => {
            format!("you don't hold this issue, so there is nothing to {command}")
        }
        CommandRefusal::NotBlocked => "this issue is not blocked".to_string(),
        CommandRefusal::NotBlockable { status } => {
            format!(
                "this task is {}, so it cannot be blocked",
                status_words(*status)
            )
        }
        CommandRefusal::NotATask { ready_label } => format!(
            "this issue is not in the pool — a maintainer adds the `{}` label to put it there",
            neutralize_code(ready_label)
        ),
        CommandRefusal::UnknownLinkCode => {
            "that link code is unknown or has expired — run `owp worker link` for a new one"
                .to_string()
        }
        CommandRefusal::WorkerLinkedElsewhere => {
            "that worker is already linked to another GitHub account".to_string()
        }
    };
    format!("@{login}, {why}.")
}

pub mod proposals;
mod pull_ready;
pub use pull_ready::Commits;
pub mod reviewers;
#[cfg(test)]
mod tests;
