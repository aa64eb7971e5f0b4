//! Linking a registered worker to a GitHub login, so that its owner can claim issues by comment
//! as that worker: `POST /v1/workers/link-code` (with the worker's token) returns a one-time code;
//! the owner comments `/owp link CODE` on any issue of an installed repository, which proves the
//! login (the route is `http::link_code`). Nobody can claim in someone else's name: a worker's
//! self-declared `github_login` is shown but never trusted for comment claims.

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::store::github::issues::task_targets;
use crate::store::github::outbox::OutboxTarget;
use crate::store::github::worker_links::LinkMove;
use crate::store::{StoreError, WriteTx};

/// How long a link code can be used.
pub const CODE_TTL_MS: i64 = 3_600_000;

/// Letters that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new code, `XXXX-XXXX`.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    code
}

/// How a code is stored: its SHA-256, ignoring letter case.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

/// What moved with a person to the worker that speaks for them now, on the issue a
/// [`relinked`] text is written on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovedHere {
    /// Nothing of this issue (the reply to the person's own `/owp link`).
    Nothing,
    /// Their claim of this issue.
    Claim,
    /// Their plan for this issue.
    Plan,
}

/// Which worker speaks for `login` now and which stopped, in words (worker ids, written as
/// code), with what of the issue it is written on moved with them. Written on an issue where the
/// person did not just comment, it says how to take it back: a device code the person entered at
/// GitHub's device page may have been a stranger's.
pub fn relinked(login: &str, now: &str, left: &str, moved: MovedHere) -> String {
    let what = match moved {
        MovedHere::Nothing => String::new(),
        MovedHere::Claim => format!(
            " Your claim of this issue moved with you: report and renew it from `{now}`; \
             reports from `{left}` are refused."
        ),
        MovedHere::Plan => format!(
            " Your plan for this issue moved with you: `{now}` answers for it and is the worker \
             an approval hands the issue to."
        ),
    };
    let not_you = if moved == MovedHere::Nothing {
        String::new()
    } else {
        format!(
            " If you did not link `{now}` (a code you entered at GitHub's device page was not \
             your worker's), link your own worker again (`owp worker link`): all of this moves \
             back to it."
        )
    };
    format!(
        "@{login}, worker `{now}` speaks for you now (you linked it just now); worker `{left}` \
         no longer does.{what}{not_you}"
    )
}

/// A proof moved `login` from one worker to another (`mv`): each task whose claim or plan moved
/// with them says so on its issue (through the outbox, in the transaction of the link), so the
/// person learns which worker answers for their work now, which stopped, and how to take it back
/// if the link was not theirs.
pub async fn tell_moved(
    tx: &mut WriteTx,
    login: &str,
    now: &str,
    mv: &LinkMove,
) -> Result<(), StoreError> {
    let Some(left) = &mv.left else {
        return Ok(());
    };
    let plans = mv
        .moved_plans
        .iter()
        .filter(|t| !mv.moved_tasks.contains(t))
        .map(|t| (t, MovedHere::Plan));
    let told: Vec<(&String, MovedHere)> = mv
        .moved_tasks
        .iter()
        .map(|t| (t, MovedHere::Claim))
        .chain(plans)
        .collect();
    let ids: Vec<&str> = told.iter().map(|(t, _)| t.as_str()).collect();
    let targets = task_targets(tx.conn(), &ids).await?;
    for (task, moved) in told {
        if let Some((repo, number, installation_id)) = targets.get(task) {
            let target = OutboxTarget {
                installation_id: *installation_id,
                repo,
                issue_number: *number,
            };
            let body = relinked(login, now, left, moved);
            tx.outbox()
                .enqueue_comment(&target, Some(task), &body)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_right_and_parse_as_commands() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let parsed = crate::commands::parse_commands(&format!("/owp link {code}"));
        assert_eq!(
            parsed,
            vec![Ok(crate::commands::Command::Link { code: code.clone() })]
        );
        assert_eq!(code_hash(&code), code_hash(&code.to_lowercase()));
    }
}
