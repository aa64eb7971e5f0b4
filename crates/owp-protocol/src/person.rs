//! A person: one GitHub account, known by its numeric id (contract section 14).
//!
//! Every rule about people (trust, credit, account age, vouch lists, plans and their quota, first
//! timers, cool-downs, reviewers) reads the person, never a login string or a worker id: a login
//! can be renamed away and taken by another account, and a login typed at registration proves
//! nothing. The login is how a person is shown, as GitHub last named them.

use super::vouch::is_login;

/// A GitHub account proven to be the one a worker speaks for: by its own comment, a `/owp link
/// CODE` it commented, or GitHub's device flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// GitHub's numeric account id: who the person is.
    pub account_id: i64,
    /// Their login as GitHub last named them: how they are shown.
    pub login: String,
}

impl Person {
    /// The person of a worker's `github_account_id` and proven `github_login`, when both are
    /// known.
    pub fn of(account_id: Option<i64>, login: Option<&str>) -> Option<Person> {
        Some(Person {
            account_id: account_id?,
            login: login?.to_string(),
        })
    }

    /// The key under which the pool counts this person's proposals (`proposals.proposer`).
    pub fn proposer_key(&self) -> String {
        proposer_of_account(self.account_id)
    }
}

/// The proposer key of the person with GitHub account id `account_id`.
pub fn proposer_of_account(account_id: i64) -> String {
    format!("github:{account_id}")
}

/// The proposer key of a worker that speaks for nobody proven.
pub fn proposer_of_worker(worker_id: &str) -> String {
    format!("worker:{worker_id}")
}

/// How the App names someone in a comment: `@login` for a login of GitHub's grammar (a proven
/// person's, which is the only kind the pool keeps as a login), anything else as inline code, so
/// that no name a worker or a plan supplies can ping a team or become a link.
pub fn mention(name: &str) -> String {
    if is_login(name) {
        format!("@{name}")
    } else {
        as_code(name)
    }
}

/// `text` as one span of inline code: backticks and line breaks cannot end it early.
pub fn as_code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fence = "`".repeat(longest_backtick_run(&flat) + 1);
    if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        format!("{fence} {flat} {fence}")
    } else {
        format!("{fence}{flat}{fence}")
    }
}

/// The longest run of backticks in `text` (what a code span or fence around it must exceed).
pub fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_of_githubs_grammar_is_mentioned() {
        assert_eq!(mention("alice"), "@alice");
        assert_eq!(mention("a-b-9"), "@a-b-9");
    }

    #[test]
    fn any_other_name_is_code_and_pings_nobody() {
        assert_eq!(mention("octo-org/maintainers"), "`octo-org/maintainers`");
        assert_eq!(mention("[x](https://e.test)"), "`[x](https://e.test)`");
        assert_eq!(mention("a`b"), "``a`b``");
        assert_eq!(mention("`x"), "`` `x ``");
        assert_eq!(mention("a\nb"), "`a b`");
        assert!(!mention("-x").starts_with('@'));
    }

    #[test]
    fn a_person_needs_both_its_id_and_its_login() {
        assert_eq!(Person::of(None, Some("a")), None);
        assert_eq!(Person::of(Some(1), None), None);
        let p = Person::of(Some(7), Some("a")).unwrap();
        assert_eq!(p.proposer_key(), "github:7");
        assert_eq!(proposer_of_worker("w_1"), "worker:w_1");
    }
}
