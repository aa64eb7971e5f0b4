//! The commands a volunteer types at the `owp worker run` prompt (`pr URL`, `nack`, `renew`, …),
//! parsed. An agent's output is read the same way for the pull request it reports.

/// One command typed at the `owp worker run` prompt.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptCommand {
    /// Enter or `skip`: keep working.
    Keep,
    Pr {
        index: Option<usize>,
        url: String,
    },
    Nack {
        index: Option<usize>,
        reason: Option<String>,
    },
    Block {
        index: Option<usize>,
        reason: Option<String>,
    },
    Renew {
        index: Option<usize>,
    },
    List,
    Help,
    Quit,
}

/// Parses a prompt line. `held` is how many leases are held: a leading number in `1..=held` picks
/// one of them.
pub fn parse_prompt(line: &str, held: usize) -> Result<PromptCommand, String> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else {
        return Ok(PromptCommand::Keep);
    };
    let rest: Vec<&str> = words.collect();
    let (index, rest) = match rest.first().and_then(|w| w.parse::<usize>().ok()) {
        Some(n) if n >= 1 && n <= held => (Some(n), &rest[1..]),
        _ => (None, &rest[..]),
    };
    let text = (!rest.is_empty()).then(|| rest.join(" "));
    match verb.to_ascii_lowercase().as_str() {
        "skip" | "keep" | "k" => Ok(PromptCommand::Keep),
        "pr" => {
            let url = text.ok_or("usage: pr [N] URL (the pull request you opened)")?;
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(' ') {
                return Err(format!("{url:?} does not look like a pull request URL"));
            }
            Ok(PromptCommand::Pr { index, url })
        }
        "nack" | "release" => Ok(PromptCommand::Nack {
            index,
            reason: text,
        }),
        "block" | "blocked" => Ok(PromptCommand::Block {
            index,
            reason: text,
        }),
        "renew" => Ok(PromptCommand::Renew { index }),
        "list" | "ls" | "status" => Ok(PromptCommand::List),
        "help" | "?" | "h" => Ok(PromptCommand::Help),
        "quit" | "exit" | "q" => Ok(PromptCommand::Quit),
        other => Err(format!("unknown command {other:?}; type `help`")),
    }
}

pub const PROMPT_HELP: &str = "\
commands (N picks a lease when you hold several):
  pr [N] URL          you opened a pull request: the task moves to pr_opened
  nack [N] [REASON]   give the task back to the pool
  block [N] [REASON]  the task cannot be done as described
  renew [N]           extend the lease (every lease without N)
  list                show the leases you hold
  skip / Enter        keep working
  quit / Ctrl-C       stop (leases stay yours until they expire)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_commands() {
        assert_eq!(parse_prompt("", 1), Ok(PromptCommand::Keep));
        assert_eq!(parse_prompt("  skip ", 1), Ok(PromptCommand::Keep));
        assert_eq!(
            parse_prompt("pr https://github.com/o/r/pull/9", 1),
            Ok(PromptCommand::Pr {
                index: None,
                url: "https://github.com/o/r/pull/9".into()
            })
        );
        assert_eq!(
            parse_prompt("pr 2 https://x.test/pull/1", 2),
            Ok(PromptCommand::Pr {
                index: Some(2),
                url: "https://x.test/pull/1".into()
            })
        );
        assert!(parse_prompt("pr", 1).is_err());
        assert!(parse_prompt("pr not-a-url", 1).is_err());
        // A number beyond the held leases is part of the reason.
        assert_eq!(
            parse_prompt("nack 3 days of work", 1),
            Ok(PromptCommand::Nack {
                index: None,
                reason: Some("3 days of work".into())
            })
        );
        assert_eq!(
            parse_prompt("block 1 needs a design decision", 2),
            Ok(PromptCommand::Block {
                index: Some(1),
                reason: Some("needs a design decision".into())
            })
        );
        assert_eq!(
            parse_prompt("renew", 2),
            Ok(PromptCommand::Renew { index: None })
        );
        assert_eq!(parse_prompt("QUIT", 0), Ok(PromptCommand::Quit));
        assert!(parse_prompt("merge", 1).is_err());
    }
}
