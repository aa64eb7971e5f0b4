//! The report: one table row per run.

use std::fmt::Write as _;

use super::cpu_use::CpuUse;
use super::pg_stats::{DeadTuples, StatementUse};

use super::*;

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

pub(super) fn table(results: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| build | backend | procs | cap | tasks | waiting | path locks | workers | offered/s | claims/s | p50 ms | p99 ms | raw claims/s | raw p50 | raw p99 | ratio | bare/s | bare p50 | bare p99 | ÷ bare | CPU ms/claim: db + server + load | bare CPU ms/cycle: db + clients | buffers/claim statement | buffers/claim, all | bare buffers/cycle | dead tuples: start → peak ½ / ½ → end | cycles/s | webhook/s | webhook p50 | webhook p99 | peak RSS MB | HTTP import tasks/s | failed | load |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(34));
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.0} | {} | {:.1} |",
            r.build,
            r.backend,
            r.replicas,
            opt(r.server_cpu, 2),
            r.tasks,
            r.waiting,
            r.path_locks,
            r.workers,
            opt(r.rate, 0),
            r.claims_per_s,
            r.claim_p50_ms,
            r.claim_p99_ms,
            opt(r.raw_claims_per_s, 0),
            opt(r.raw_claim_p50_ms, 2),
            opt(r.raw_claim_p99_ms, 2),
            opt(r.ratio_to_raw, 2),
            opt(r.bare_per_s, 0),
            opt(r.bare_claim_p50_ms, 2),
            opt(r.bare_claim_p99_ms, 2),
            opt(r.ratio_to_bare, 2),
            CpuUse::cell(r.cpu_ms, true),
            CpuUse::cell(r.bare_cpu_ms, false),
            opt(claim_buffers(r.statements.as_ref()), 1),
            opt(r.statements.as_ref().and_then(|u| u.buffers_per_claim), 1),
            opt(
                r.bare_statements.as_ref().and_then(|u| u.buffers_per_claim),
                1
            ),
            DeadTuples::cell(r.dead_tuples.as_ref()),
            r.cycles_per_s,
            opt(r.webhook_per_s, 0),
            opt(r.webhook_p50_ms, 2),
            opt(r.webhook_p99_ms, 2),
            r.peak_rss_mb,
            r.http_import_tasks_per_s,
            r.errors,
            r.load_avg,
        );
    }
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let _ = writeln!(
        out,
        "\n{} measured window(s) of {} s per row (median shown); {} core(s); {} failed requests.",
        results.first().map(|r| r.windows).unwrap_or(0),
        results.first().map(|r| r.window_s).unwrap_or(0),
        results.first().map(|r| r.cores).unwrap_or(0),
        errors
    );
    if let Some(why) = results.iter().find_map(|r| r.statements_missing.as_deref()) {
        let _ = writeln!(out, "No buffers per claim: {why}.");
    }
    out
}

/// Under `--against`: each row of this build beside the same row of the other (run right after
/// it), with this build's figure ÷ the other's. Empty without `--against`.
pub(super) fn side_by_side(results: &[RunResult]) -> String {
    let mut out = String::new();
    let pairs: Vec<(&RunResult, &RunResult)> = results
        .windows(2)
        .filter(|w| w[0].build == "this" && w[1].build == "against")
        .map(|w| (&w[0], &w[1]))
        .collect();
    if pairs.is_empty() {
        return out;
    }
    let db = |r: &RunResult| r.cpu_ms.and_then(|c| c.db_ms);
    let server = |r: &RunResult| r.cpu_ms.map(|c| c.server_ms);
    let _ = writeln!(
        out,
        "\nSide by side with --against (this build, the other in brackets, and this ÷ the other):\n\n\
         | backend | procs | tasks | path locks | claims/s | × | claim p99 ms | × | db CPU ms/claim | × | server CPU ms/claim | × | webhook/s | × | peak RSS MB |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(15));
    for (this, other) in pairs {
        let (claims, claims_x) = beside(Some(this.claims_per_s), Some(other.claims_per_s), 0);
        let (p99, p99_x) = beside(Some(this.claim_p99_ms), Some(other.claim_p99_ms), 2);
        let (db_ms, db_x) = beside(db(this), db(other), 3);
        let (server_ms, server_x) = beside(server(this), server(other), 3);
        let (hooks, hooks_x) = beside(this.webhook_per_s, other.webhook_per_s, 0);
        let (rss, _) = beside(Some(this.peak_rss_mb), Some(other.peak_rss_mb), 1);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {claims} | {claims_x} | {p99} | {p99_x} | {db_ms} | {db_x} | {server_ms} | {server_x} | {hooks} | {hooks_x} | {rss} |",
            this.backend, this.replicas, this.tasks, this.path_locks,
        );
    }
    out
}

/// `a ÷ b` to two decimals; `–` when `b` is not above 0.
pub(super) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// A side-by-side cell, this build's figure with the other's in brackets (`digits` decimals),
/// and their [`ratio`]; `–` for both when either is missing.
pub(super) fn beside(a: Option<f64>, b: Option<f64>, digits: usize) -> (String, String) {
    match (a, b) {
        (Some(a), Some(b)) => (format!("{a:.digits$} ({b:.digits$})"), ratio(a, b)),
        _ => ("–".into(), "–".into()),
    }
}

/// The claim statement's shared buffers per claim answered.
pub(super) fn claim_buffers(u: Option<&StatementUse>) -> Option<f64> {
    u.and_then(|u| u.claim_buffers_per_claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_cell_per_column() {
        let rows = [
            RunResult {
                backend: "postgres".into(),
                server_cpu: Some(0.15),
                dead_tuples: Some(DeadTuples {
                    start: 1,
                    peak_first_half: 5,
                    peak_second_half: 4,
                    end: 3,
                    ..Default::default()
                }),
                statements_missing: Some("not loaded".into()),
                errors: 7,
                ..Default::default()
            },
            RunResult::default(),
        ];
        let out = table(&rows);
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 4, "{out}");
        let cells = |l: &str| l.matches(" | ").count();
        assert!(lines[0].contains("| cap |") && lines[0].contains("| path locks |"));
        for l in &lines[2..] {
            assert_eq!(cells(l), cells(lines[0]), "{l}");
        }
        assert_eq!(lines[1].matches("---|").count(), cells(lines[0]) + 1);
        assert!(lines[2].contains("| postgres | 0 | 0.15 |"), "{}", lines[2]);
        assert!(lines[2].contains("| 1 → 5 / 4 → 3 |"), "{}", lines[2]);
        assert!(lines[2].ends_with("| 7 | 0.0 |"), "{}", lines[2]);
        assert!(out.contains("No buffers per claim: not loaded."), "{out}");
    }

    #[test]
    fn side_by_side_pairs_each_row_with_the_other_builds() {
        let row = |build, claims, db| RunResult {
            build,
            backend: "postgres".into(),
            replicas: 1,
            tasks: 1000,
            claims_per_s: claims,
            cpu_ms: Some(CpuUse {
                db_ms: Some(db),
                server_ms: 0.5,
                load_ms: 0.1,
            }),
            ..Default::default()
        };
        assert_eq!(side_by_side(&[row("this", 900.0, 1.0)]), "");
        let out = side_by_side(&[
            row("this", 900.0, 1.0),
            row("against", 1000.0, 0.8),
            row("this", 500.0, 2.0),
        ]);
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[2].contains("| 900 (1000) | 0.90 |"), "{}", lines[2]);
        assert!(
            lines[2].contains("| 1.000 (0.800) | 1.25 |"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[2].matches(" | ").count(),
            lines[0].matches(" | ").count()
        );
    }
}
