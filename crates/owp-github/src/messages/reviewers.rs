//! What the App writes about reviewers with room (rule 13): the status comment's reviewer, a
//! claim refused for want of reviewers, and the replies to `/owp away`, `/owp back` and
//! `/owp review @login`. A reviewer's login comes from the repository's settings, where it was
//! checked to be a GitHub login; a login someone typed in a command is quoted as code, so that a
//! stranger's name never becomes a mention.

use chrono::{DateTime, Utc};

use super::{StatusView, format_time, neutralize_code, plural};
use crate::commands::COMMAND_PREFIX;
use crate::domain::TaskStatus;

/// "Reviewer: @alice" under the status line while a pull request is open and a reviewer reviews
/// it: a mention, not a review request.
pub(super) fn reviewer_line(view: &StatusView) -> Option<String> {
    let login = view.reviewer.as_deref()?;
    (view.status == TaskStatus::PrOpened).then(|| format!("\n\nReviewer: @{login}"))
}

/// Why a claim waits for reviewers (a refusal of rule 13).
pub(super) fn no_room_reason(room: i64, in_flight: i64) -> String {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    let room = count(room);
    let wait = "try again when a review ends or a reviewer is back";
    if room == 0 {
        return format!(
            "this repository's reviewers have no room for another pull request — {wait}"
        );
    }
    format!(
        "this repository's reviewers have room for {}, and {} in progress will need {} — {wait}",
        plural(room, "more pull request", "more pull requests"),
        plural(count(in_flight), "claim", "claims"),
        if room == 1 { "it" } else { "them" }
    )
}

/// The reply to `/owp away [DAYS]`: `until` is when the absence ends, `None` until
/// `/owp back`; `open` the reviews they keep.
pub fn away(login: &str, until: Option<DateTime<Utc>>, open: i64) -> String {
    let (when, sooner) = match until {
        Some(t) => (
            format!("until {}", format_time(t)),
            format!(" `{COMMAND_PREFIX} back` ends it sooner."),
        ),
        None => (
            format!("until you comment `{COMMAND_PREFIX} back`"),
            String::new(),
        ),
    };
    let kept = match u32::try_from(open.max(0)).unwrap_or(u32::MAX) {
        0 => String::new(),
        n => format!(
            " You keep the {} you review.",
            plural(n, "open pull request", "open pull requests")
        ),
    };
    format!(
        "@{login}, you are away {when}: no new pull requests are assigned to you for \
         review.{kept}{sooner}"
    )
}

/// The reply to `/owp back`.
pub fn back(login: &str) -> String {
    format!("@{login}, welcome back: pull requests are assigned to you for review again.")
}

/// The reply to `/owp away` or `/owp back` by someone who is not one of the repository's
/// reviewers.
pub fn not_a_reviewer(login: &str) -> String {
    format!(
        "@{login}, you are not one of this repository's reviewers (`review.reviewers` in \
         `.github/owp.yml`), so there is nothing to change."
    )
}

/// The reply to `/owp review @other` naming someone who is not one of the repository's reviewers.
pub fn unknown_reviewer(login: &str, other: &str) -> String {
    format!(
        "@{login}, `{}` is not one of this repository's reviewers (`review.reviewers` in \
         `.github/owp.yml`), so the review stays where it is.",
        neutralize_code(other)
    )
}

/// The reply to `/owp review @other` on an issue whose task has no pull request in review.
pub fn no_review(login: &str) -> String {
    format!("@{login}, no pull request of this issue is in review, so there is no review to move.")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::commands::CommandError;
    use crate::messages::{ClaimRefusal, claim_refused, command_error};

    #[test]
    fn every_reviewer_reply() {
        let until = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let text = [
            away("alice", Some(until), 2),
            away("alice", None, 0),
            back("alice"),
            not_a_reviewer("carol"),
            unknown_reviewer("maintainer", "dave`<!--"),
            no_review("maintainer"),
            claim_refused(
                "carol",
                &[ClaimRefusal::NoReviewerRoom {
                    room: 1,
                    in_flight: 1,
                }],
            ),
            claim_refused(
                "carol",
                &[ClaimRefusal::NoReviewerRoom {
                    room: 0,
                    in_flight: 0,
                }],
            ),
            command_error(
                "alice",
                &CommandError::InvalidAwayDays {
                    found: "400".into(),
                },
                "https://owp.example.org/docs/github",
            ),
            command_error(
                "maintainer",
                &CommandError::MissingReviewer,
                "https://owp.example.org/docs/github",
            ),
            command_error(
                "maintainer",
                &CommandError::InvalidReviewer {
                    found: "bob!".into(),
                },
                "https://owp.example.org/docs/github",
            ),
        ];
        insta::assert_snapshot!(text.join("\n"));
    }
}
