//! The report: one table row per run.

use std::fmt::Write as _;

use super::cpu_use::CpuUse;

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
        "\n| backend | procs | tasks | waiting | workers | offered/s | claims/s | p50 ms | p99 ms | raw claims/s | raw p50 | raw p99 | ratio | bare/s | bare p50 | bare p99 | ÷ bare | CPU ms/claim: db + server + load | bare CPU ms/cycle: db + clients | cycles/s | webhook/s | webhook p50 | webhook p99 | peak RSS MB | HTTP import tasks/s | load |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.0} | {:.1} |",
            r.backend,
            r.replicas,
            r.tasks,
            r.waiting,
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
            r.cycles_per_s,
            opt(r.webhook_per_s, 0),
            opt(r.webhook_p50_ms, 2),
            opt(r.webhook_p99_ms, 2),
            r.peak_rss_mb,
            r.http_import_tasks_per_s,
            r.load_avg,
        );
    }
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let capped = match results.first().and_then(|r| r.server_cpu) {
        Some(cores) => format!(" each claim server capped at {cores} core(s);"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "\n{} measured window(s) of {} s per row (median shown); {} core(s);{capped} {} failed requests.",
        results.first().map(|r| r.windows).unwrap_or(0),
        results.first().map(|r| r.window_s).unwrap_or(0),
        results.first().map(|r| r.cores).unwrap_or(0),
        errors
    );
    out
}
