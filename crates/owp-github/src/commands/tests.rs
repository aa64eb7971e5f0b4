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

    #[test]
    fn plan_commands_parse() {
        assert_eq!(
            one("/owp approve @Ada"),
            Ok(Command::Approve {
                login: "ada".into()
            })
        );
        assert!(matches!(
            one("/owp approve @ada now"),
            Err(CommandError::UnexpectedArguments { .. })
        ));
        assert_eq!(
            one("/owp approve"),
            Err(CommandError::MissingLogin { command: "approve" })
        );
        assert_eq!(
            one("/owp decline @bob   not   the direction"),
            Ok(Command::Decline {
                login: "bob".into(),
                reason: Some("not the direction".into())
            })
        );
        assert_eq!(
            one("/owp decline bob"),
            Ok(Command::Decline {
                login: "bob".into(),
                reason: None
            })
        );
        let long = format!("/owp decline @bob {}", "x".repeat(501));
        assert_eq!(one(&long), Err(CommandError::DeclineReasonTooLong));
        assert_eq!(one("/owp withdraw"), Ok(Command::Withdraw));
        assert!(Command::Approve { login: "a".into() }.requires_maintainer());
        assert!(!Command::Withdraw.requires_maintainer());
        assert_eq!(did_you_mean("aprove"), Some("approve"));
    }

    #[test]
    fn the_plan_follows_the_claim_line() {
        assert_eq!(plan_after_claim("/owp claim"), None);
        assert_eq!(plan_after_claim("/owp claim\n\n  \n"), None);
        assert_eq!(
            plan_after_claim("Hi!\n/owp claim\nFirst a test.\n\n```\ncode\n```\n"),
            Some("First a test.\n\n```\ncode\n```".into())
        );
        assert_eq!(plan_after_claim("no command\nat all"), None);
        // Control characters are no plan; line breaks and tabs stay.
        assert_eq!(
            plan_after_claim("/owp claim\n\u{1}\u{7}\u{1b}\n\u{7f}"),
            None
        );
        assert_eq!(
            plan_after_claim("/owp claim\n\u{1b}[31mred\u{7}\n\tthen"),
            Some("[31mred\n\tthen".into())
        );
    }
}
