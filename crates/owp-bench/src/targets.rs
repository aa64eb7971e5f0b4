//! The targets the report's rows are read against (docs/performance.md, "Targets"), each with the measured
//! value and, where it is missed, by how much.
//!
//! - PostgreSQL, per claim: the database's CPU at most 0.5 ms and at most 2× the bare cycle's
//!   database CPU; the claim statement at most 30 shared buffers; claims/s at least 0.35× the bare
//!   cycle's cycles/s in the same run; the dead row versions of the hot tables (printed, read
//!   by a person: whether they stay bounded shows over a long run).
//! - PostgreSQL, capped server processes (`--capped-replicas`): two make at least 1.8× what one
//!   makes, and four at least what two make.
//! - Path locks (`--path-locks`): the claim rate with locks beside the rate without.
//! - SQLite: claims/s against the rates of the reference machine's current table.

use std::fmt::Write as _;

use super::RunResult;
use super::report::claim_buffers;

const DB_CPU_MS: f64 = 0.5;
const DB_CPU_TO_BARE: f64 = 2.0;
const CLAIM_BUFFERS: f64 = 30.0;
const RATE_TO_BARE: f64 = 0.35;
const TWO_TO_ONE: f64 = 1.8;
const FOUR_TO_TWO: f64 = 1.0;
/// SQLite's claims/s in `docs/performance.md`'s current table (100,000 tasks, 200 workers).
const SQLITE_REFERENCE: (f64, f64) = (5_800.0, 6_400.0);

#[derive(Clone, Copy)]
enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

/// A difference: whole numbers from 100 up, else two decimals.
fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `met`, or by how much `value` misses `goal` (`unit` after the difference).
fn verdict(value: f64, goal: Goal, unit: &str) -> String {
    match goal {
        Goal::AtMost(t) if value <= t => "met".into(),
        Goal::AtMost(t) => format!(
            "missed by {}{unit} ({:.1}× the target)",
            num(value - t),
            value / t
        ),
        Goal::AtLeast(t) if value >= t => "met".into(),
        Goal::AtLeast(t) => format!(
            "missed by {}{unit} ({:.0} % of the target)",
            num(t - value),
            value / t * 100.0
        ),
    }
}

fn label(r: &RunResult) -> String {
    let mut s = format!(
        "{}, {} tasks, {} process(es)",
        r.backend, r.tasks, r.replicas
    );
    if let Some(cores) = r.server_cpu {
        let _ = write!(s, " capped at {cores} core(s)");
    }
    if r.waiting > 0 {
        let _ = write!(s, ", {} waiting", r.waiting);
    }
    if r.path_locks > 0 {
        let _ = write!(s, ", {} path locks", r.path_locks);
    }
    s
}

/// The targets section printed after the table.
pub(super) fn summary(results: &[RunResult]) -> String {
    let mut out = String::from("\nTargets:\n");
    for r in results.iter().filter(|r| r.backend == "postgres") {
        let at = label(r);
        if let Some(db) = r.cpu_ms.and_then(|c| c.db_ms) {
            let _ = writeln!(
                out,
                "- {at}: database CPU per claim {db:.2} ms (≤ {DB_CPU_MS}): {}",
                verdict(db, Goal::AtMost(DB_CPU_MS), " ms")
            );
            if let Some(bare) = r.bare_cpu_ms.and_then(|c| c.db_ms).filter(|b| *b > 0.0) {
                let x = db / bare;
                let _ = writeln!(
                    out,
                    "- {at}: database CPU per claim ÷ the bare cycle's {x:.1}× \
                     ({db:.2} ÷ {bare:.2} ms; ≤ {DB_CPU_TO_BARE}×): {}",
                    verdict(x, Goal::AtMost(DB_CPU_TO_BARE), "×")
                );
            }
        }
        match claim_buffers(r.statements.as_ref()) {
            Some(b) => {
                let _ = writeln!(
                    out,
                    "- {at}: shared buffers per claim statement {b:.1} (≤ {CLAIM_BUFFERS}): {}",
                    verdict(b, Goal::AtMost(CLAIM_BUFFERS), "")
                );
            }
            None => {
                let why = r
                    .statements_missing
                    .as_deref()
                    .unwrap_or("no claim statement was counted");
                let _ = writeln!(out, "- {at}: shared buffers per claim statement: – ({why})");
            }
        }
        if let (Some(ratio), Some(bare)) = (r.ratio_to_bare, r.bare_per_s) {
            let _ = writeln!(
                out,
                "- {at}: claims/s ÷ bare {ratio:.2} ({:.0} ÷ {bare:.0}; ≥ {RATE_TO_BARE}): {}",
                r.claims_per_s,
                verdict(ratio, Goal::AtLeast(RATE_TO_BARE), "")
            );
        }
        if let Some(d) = &r.dead_tuples {
            let autovacuum = match d.autovacuum {
                Some(true) => "autovacuum on",
                Some(false) => "autovacuum off: nothing but page pruning removes them",
                None => "autovacuum unknown",
            };
            let tables: Vec<String> = d
                .tables
                .iter()
                .map(|(name, start, most, end)| format!("{name} {start} → {most} → {end}"))
                .collect();
            let _ = writeln!(
                out,
                "- {at}: dead tuples of the hot tables over {:.0} s: {} at the start, at most {} \
                 in the first half and {} in the second, {} at the end ({}: start → most → end); \
                 {} vacuum(s), {autovacuum}",
                d.seconds,
                d.start,
                d.peak_first_half,
                d.peak_second_half,
                d.end,
                tables.join(", "),
                d.vacuums
            );
        }
    }
    scaling(&mut out, results);
    path_locks(&mut out, results);
    // The reference rows had neither waiting tasks nor paths.
    let plain = |r: &&RunResult| r.backend == "sqlite" && r.waiting == 0 && r.path_locks == 0;
    for r in results.iter().filter(plain) {
        let (low, high) = SQLITE_REFERENCE;
        let _ = writeln!(
            out,
            "- {}: {:.0} claims/s (the reference machine's table: {low:.0}–{high:.0}): {}",
            label(r),
            r.claims_per_s,
            verdict(r.claims_per_s, Goal::AtLeast(low), " claims/s")
        );
    }
    out
}

/// Capped server processes: 2 ÷ 1 and 4 ÷ 2, per queue size.
fn scaling(out: &mut String, results: &[RunResult]) {
    let capped: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.backend == "postgres" && r.server_cpu.is_some())
        .collect();
    let rate = |like: &RunResult, procs: usize| {
        capped
            .iter()
            .find(|r| {
                r.replicas == procs
                    && r.tasks == like.tasks
                    && r.server_cpu == like.server_cpu
                    && r.path_locks == like.path_locks
                    && r.waiting == like.waiting
            })
            .map(|r| r.claims_per_s)
    };
    for r in capped.iter().filter(|r| r.replicas == 2) {
        let at = label(r);
        if let Some(one) = rate(r, 1).filter(|v| *v > 0.0) {
            let x = r.claims_per_s / one;
            let _ = writeln!(
                out,
                "- {at}: {:.0} claims/s, {x:.2}× one process's {one:.0} (≥ {TWO_TO_ONE}×): {}",
                r.claims_per_s,
                verdict(x, Goal::AtLeast(TWO_TO_ONE), "×")
            );
        }
        if let Some(four) = rate(r, 4).filter(|_| r.claims_per_s > 0.0) {
            let x = four / r.claims_per_s;
            let _ = writeln!(
                out,
                "- {at}: four processes make {four:.0} claims/s, {x:.2}× two's (≥ {FOUR_TO_TWO}×): {}",
                verdict(x, Goal::AtLeast(FOUR_TO_TWO), "×")
            );
        }
    }
}

/// Runs with path locks beside the same run without.
fn path_locks(out: &mut String, results: &[RunResult]) {
    for r in results.iter().filter(|r| r.path_locks > 0) {
        let without = results.iter().find(|o| {
            o.path_locks == 0
                && o.backend == r.backend
                && o.tasks == r.tasks
                && o.replicas == r.replicas
                && o.waiting == r.waiting
                && o.server_cpu == r.server_cpu
        });
        if let Some(o) = without.filter(|o| o.claims_per_s > 0.0) {
            let _ = writeln!(
                out,
                "- {}: {:.0} claims/s, {:.2}× the {:.0} of the same load without paths \
                 (claim p50 {:.2} ms against {:.2})",
                label(r),
                r.claims_per_s,
                r.claims_per_s / o.claims_per_s,
                o.claims_per_s,
                r.claim_p50_ms,
                o.claim_p50_ms
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::cpu_use::CpuUse;
    use super::super::pg_stats::{DeadTuples, PerCall, StatementUse};
    use super::*;

    #[test]
    fn verdicts_say_by_how_much_a_target_is_missed() {
        assert_eq!(verdict(0.5, Goal::AtMost(0.5), " ms"), "met");
        assert_eq!(
            verdict(1.75, Goal::AtMost(0.5), " ms"),
            "missed by 1.25 ms (3.5× the target)"
        );
        assert_eq!(verdict(0.4, Goal::AtLeast(0.35), ""), "met");
        assert_eq!(
            verdict(0.21, Goal::AtLeast(0.35), ""),
            "missed by 0.14 (60 % of the target)"
        );
        assert_eq!(
            verdict(3_501.3, Goal::AtLeast(5_800.0), " claims/s"),
            "missed by 2299 claims/s (60 % of the target)"
        );
    }

    fn pg(procs: usize, cap: Option<f64>, locks: usize, rate: f64) -> RunResult {
        RunResult {
            backend: "postgres".into(),
            replicas: procs,
            tasks: 100_000,
            path_locks: locks,
            server_cpu: cap,
            claims_per_s: rate,
            claim_p50_ms: 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn the_summary_reads_every_row_against_its_target() {
        let mut main = pg(1, None, 0, 800.0);
        main.cpu_ms = Some(CpuUse {
            db_ms: Some(1.8),
            server_ms: 0.5,
            load_ms: 0.1,
        });
        main.bare_cpu_ms = Some(CpuUse {
            db_ms: Some(0.3),
            server_ms: 0.0,
            load_ms: 0.1,
        });
        main.bare_per_s = Some(4_000.0);
        main.ratio_to_bare = Some(0.2);
        main.statements = Some(StatementUse {
            claim: Some(PerCall {
                query: "WITH …".into(),
                calls: 10,
                buffers: 24.0,
                exec_ms: 0.4,
                wal_bytes: 2_000.0,
            }),
            claim_buffers_per_claim: Some(24.0),
            buffers_per_claim: Some(90.0),
            wal_bytes_per_claim: Some(5_000.0),
            top: Vec::new(),
        });
        let mut locked = pg(1, None, 1_000, 600.0);
        locked.statements_missing = Some("not loaded".into());
        main.dead_tuples = Some(DeadTuples {
            tables: vec![("tasks".into(), 5, 900, 300)],
            start: 5,
            peak_first_half: 900,
            peak_second_half: 700,
            end: 300,
            vacuums: 2,
            autovacuum: Some(true),
            seconds: 60.0,
        });
        let sqlite = RunResult {
            backend: "sqlite".into(),
            replicas: 1,
            tasks: 100_000,
            claims_per_s: 6_000.0,
            ..Default::default()
        };
        let sqlite_locked = RunResult {
            backend: "sqlite".into(),
            replicas: 1,
            tasks: 100_000,
            path_locks: 1_000,
            claims_per_s: 1_000.0,
            ..Default::default()
        };
        let results = [
            main,
            locked,
            pg(1, Some(0.15), 0, 250.0),
            pg(2, Some(0.15), 0, 400.0),
            pg(4, Some(0.15), 0, 380.0),
            sqlite,
            sqlite_locked,
        ];
        let s = summary(&results);
        let has = |needle: &str| assert!(s.contains(needle), "{needle:?} not in\n{s}");
        has(
            "- postgres, 100000 tasks, 1 process(es): database CPU per claim 1.80 ms (≤ 0.5): \
             missed by 1.30 ms (3.6× the target)",
        );
        has("÷ the bare cycle's 6.0× (1.80 ÷ 0.30 ms; ≤ 2×): missed by 4.00× (3.0× the target)");
        has("1 process(es): shared buffers per claim statement 24.0 (≤ 30): met");
        has("claims/s ÷ bare 0.20 (800 ÷ 4000; ≥ 0.35): missed by 0.15 (57 % of the target)");
        has("1000 path locks: shared buffers per claim statement: – (not loaded)");
        has(
            "capped at 0.15 core(s): 400 claims/s, 1.60× one process's 250 (≥ 1.8×): \
             missed by 0.20× (89 % of the target)",
        );
        has("four processes make 380 claims/s, 0.95× two's (≥ 1×): missed by 0.05× (95 %");
        has("1000 path locks: 600 claims/s, 0.75× the 800 of the same load without paths");
        has(
            "- sqlite, 100000 tasks, 1 process(es): 6000 claims/s (the reference machine's \
             table: 5800–6400): met",
        );
        has(
            "dead tuples of the hot tables over 60 s: 5 at the start, at most 900 in the first \
             half and 700 in the second, 300 at the end (tasks 5 → 900 → 300: start → most → \
             end); 2 vacuum(s), autovacuum on",
        );
        has("1000 path locks: 1000 claims/s, 0.17× the 6000 of the same load without paths");
        // Only the plain SQLite row is read against the reference table.
        assert_eq!(s.matches("the reference machine's table").count(), 1, "{s}");
        // Each run with locks is compared with the one run without of its backend (a capped
        // run would not be).
        assert_eq!(
            s.matches("of the same load without paths").count(),
            2,
            "{s}"
        );
    }
}
