//! The proof that each rule of the claim is written once in the service's source (the store's
//! `rule_texts` module lists where each one lives, and proves that PostgreSQL's rechecks read
//! that same text). It walks the workspace's code, so it lives in the crate at its root.

#![cfg(test)]

use crate::source_code::code_below;

/// The review budget (rule 6) is counted and decided, path overlap (rule 10) joined, and a
/// task in flight or held by a lease named, in one place each: a line of the service that
/// adds `open_prs` and `active_leases`, compares with `max_open_prs`, joins two path rows by
/// their prefix, or lists the statuses of a lease, outside that place, is a second text of
/// the rule. Left out: the conformance runner, a client that judges any implementation by
/// what it answers, and `owp bench`, whose scratch database is its own.
#[test]
fn every_rule_is_written_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    code_below(&root.join("src"), &[], &mut files);
    code_below(&root.join("crates/owp-store/src"), &[], &mut files);
    code_below(&root.join("crates/owp-github/src"), &[], &mut files);
    code_below(&root.join("crates/owp-protocol/src"), &[], &mut files);
    assert!(files.len() > 100, "{} files", files.len());
    type Rule<'a> = (&'a str, &'a [&'a str], fn(&str) -> bool);
    let rules: [Rule; 4] = [
        (
            "the review slots used (open_prs + active_leases)",
            &["owp-store/src/budget_rule.rs", "owp-protocol/src/rules.rs"],
            |l| {
                let sum = |a: &str, b: &str| {
                    l.match_indices(a).any(|(at, _)| {
                        let rest = l[at + a.len()..].trim_start();
                        rest.starts_with('+')
                            && rest.split([',', ';']).next().is_some_and(|e| e.contains(b))
                    })
                };
                sum("open_prs", "active_leases")
                    || sum("active_leases", "open_prs")
                    || l.contains("open_prs.saturating_add")
            },
        ),
        (
            "the review budget's room (against max_open_prs)",
            &["owp-store/src/budget_rule.rs"],
            |l| {
                l.contains("max_open_prs")
                    && [" < ", " <= ", " > ", " >= "].iter().any(|c| l.contains(c))
            },
        ),
        (
            "path overlap (two path rows joined by prefix)",
            &["owp-store/src/path_overlap.rs"],
            |l| {
                l.match_indices(".prefix = ").any(|(at, _)| {
                    l[at + ".prefix = ".len()..]
                        .split_whitespace()
                        .next()
                        .is_some_and(|w| w.ends_with(".prefix"))
                })
            },
        ),
        (
            "a task in flight or held by a lease (its statuses)",
            &["owp-store/src/in_flight.rs"],
            |l| l.contains("'leased', 'in_progress'") || l.contains("'in_progress', 'leased'"),
        ),
    ];
    let mut seconds = Vec::new();
    for (rule, home, second) in rules {
        for (file, code) in &files {
            if home.iter().any(|h| file.ends_with(h)) {
                continue;
            }
            for line in code.lines() {
                if second(line) {
                    seconds.push(format!("{rule}: {file}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        seconds.is_empty(),
        "a rule written a second time; use its one text:\n{}",
        seconds.join("\n")
    );
}
