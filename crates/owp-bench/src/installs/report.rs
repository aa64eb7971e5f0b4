//! The many-installations report: one line per row (this build beside `--against`'s, with their
//! ratio) and the targets the rows are read against.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::github_sim;
use crate::github_sim::limits::{self, WriteCheck};
use crate::report::ratio;

/// Status comments per second, GitHub 100 ms away, on one process, from 200 installations up.
const STATUS_TARGET: f64 = 50.0;
/// Deliveries applied per second at the same.
const APPLIED_TARGET: f64 = 100.0;
/// The fewest installations, and GitHub's distance, the two targets above are read at.
const TARGET_INSTALLATIONS: usize = 200;
const TARGET_LATENCY_MS: u64 = 100;
/// Two PostgreSQL processes do at least this many times what one does.
const REPLICA_TARGET: f64 = 1.6;
/// A run this large stays under this much memory.
const LARGE_INSTALLATIONS: usize = 1_000;
const LARGE_RSS_MB: f64 = 300.0;

/// One run: one row with one executable.
#[derive(serde::Serialize, Clone, Debug)]
pub(super) struct InstallsResult {
    /// `this` build or the `against` one.
    pub(super) binary: String,
    pub(super) exe: String,
    pub(super) backend: String,
    pub(super) replicas: usize,
    /// The cores each server process was capped at (`--server-cpu`), if it was.
    pub(super) server_cpu: Option<f64>,
    pub(super) installations: usize,
    pub(super) repos_per_installation: usize,
    pub(super) deliveries: usize,
    pub(super) latency_ms: u64,
    pub(super) senders: usize,
    /// The simulated GitHub ran in a process of its own (`--github-apart`).
    pub(super) github_apart: bool,
    /// Deliveries the servers did not answer 2xx.
    pub(super) send_failures: usize,
    pub(super) sending_s: f64,
    /// Tasks made from the deliveries, and when the last one was (s after the first delivery).
    pub(super) applied: usize,
    pub(super) applied_s: Option<f64>,
    pub(super) applied_per_s: f64,
    /// Issues with exactly one status comment, issues with more, and when the last one was
    /// posted (s after the first delivery).
    pub(super) status_comments: usize,
    pub(super) duplicate_status_comments: usize,
    pub(super) status_s: Option<f64>,
    pub(super) status_per_s: f64,
    /// The largest peak RSS of the server processes.
    pub(super) peak_rss_mb: f64,
    /// Times an installation's writes went faster than GitHub allows (must be 0), and the
    /// installations that did, with what GitHub saw of them.
    pub(super) violations: usize,
    pub(super) installations_too_fast: BTreeMap<u64, WriteCheck>,
    /// The median over installations of when their first write arrived (s after the first
    /// delivery) and of the mean time between two of their writes (ms): what an installation's
    /// pace leaves of the run.
    pub(super) first_write_s: Option<f64>,
    pub(super) write_gap_ms: Option<f64>,
    /// Content-creating requests in all, and the most one installation made in a minute.
    pub(super) writes: usize,
    pub(super) max_writes_per_minute: usize,
    /// GitHub's requests in all (as the simulation saw them), and second by second from the
    /// first delivery, with the deliveries applied in each second.
    pub(super) requests: usize,
    pub(super) per_second: Vec<Second>,
    /// Seconds the servers' appliers and comment sender spent on each step, all of them added
    /// up (`owp_github_waited_microseconds_total`; empty for a build that does not say).
    pub(super) waited: BTreeMap<String, f64>,
    /// The servers' commits from the first delivery sent to the last status comment, every
    /// background job's included (`owp_store_commits_total`; `None` for a build that does not
    /// say).
    pub(super) commits: Option<u64>,
    /// Requests answered as over a secondary rate limit, and refused for their credentials.
    pub(super) limited: usize,
    pub(super) refused: usize,
    /// Requests the simulation had no answer for, by route.
    pub(super) unknown_routes: BTreeMap<String, usize>,
    /// The run gave up waiting (`--github-wait-s`).
    pub(super) timed_out: bool,
    pub(super) cores: usize,
    pub(super) load_avg: f64,
}

/// One second of a run: deliveries applied in it and GitHub's requests by kind.
#[derive(serde::Serialize, Clone, Debug)]
pub(super) struct Second {
    /// Seconds since the first delivery was sent.
    pub(super) second: usize,
    pub(super) applied: usize,
    pub(super) requests: BTreeMap<String, usize>,
}

impl InstallsResult {
    /// Status comments that never arrived (or arrived more than once).
    fn missing(&self) -> usize {
        self.deliveries - self.status_comments.min(self.deliveries)
    }

    /// The processes column: how many, and the cores each was capped at.
    fn processes(&self) -> String {
        match self.server_cpu {
            Some(cores) => format!("{} ({cores} cores each)", self.replicas),
            None => self.replicas.to_string(),
        }
    }

    fn same_row(&self, other: &InstallsResult) -> bool {
        (
            &self.backend,
            self.replicas,
            self.installations,
            self.latency_ms,
        ) == (
            &other.backend,
            other.replicas,
            other.installations,
            other.latency_ms,
        )
    }
}

/// The table; with `against`, each row shows this build, the other one and their ratio.
pub(super) fn table(results: &[InstallsResult], against: bool) -> String {
    let mut out = String::new();
    let first = results.first();
    let _ = writeln!(
        out,
        "\nMany installations: simulated GitHub ({}); {} repositories and {} issues.opened deliveries \
         per installation, {} senders; a violation is a write less than {} ms after the one before \
         (less {} ms of slack), or over {} a minute or {} an hour, of one installation",
        if first.is_some_and(|r| r.github_apart) {
            "in a process of its own"
        } else {
            "in the bench's process"
        },
        first.map_or(0, |r| r.repos_per_installation),
        first.map_or(0, |r| r.deliveries / r.installations.max(1)),
        first.map_or(0, |r| r.senders),
        limits::SPACING_MS,
        limits::SPACING_SLACK_MS,
        limits::PER_MINUTE,
        limits::PER_HOUR,
    );
    let this: Vec<&InstallsResult> = results.iter().filter(|r| r.binary == "this").collect();
    if against {
        let _ = writeln!(
            out,
            "| backend | processes | installations | deliveries | GitHub ms | applied/s | against | × | status comments/s | against | × | peak RSS MB | against | violations | against | missing comments | against |"
        );
        let _ = writeln!(out, "|{}", "---|".repeat(17));
    } else {
        let _ = writeln!(
            out,
            "| backend | processes | installations | deliveries | GitHub ms | applied/s | status comments/s | peak RSS MB | violations | missing comments |"
        );
        let _ = writeln!(out, "|{}", "---|".repeat(10));
    }
    for r in this {
        let head = format!(
            "| {} | {} | {} | {} | {} |",
            r.backend,
            r.processes(),
            r.installations,
            r.deliveries,
            r.latency_ms
        );
        let other = results
            .iter()
            .find(|o| o.binary == "against" && o.same_row(r));
        match (against, other) {
            (true, Some(o)) => {
                let _ = writeln!(
                    out,
                    "{head} {:.1} | {:.1} | {} | {:.1} | {:.1} | {} | {:.0} | {:.0} | {} | {} | {} | {} |",
                    r.applied_per_s,
                    o.applied_per_s,
                    ratio(r.applied_per_s, o.applied_per_s),
                    r.status_per_s,
                    o.status_per_s,
                    ratio(r.status_per_s, o.status_per_s),
                    r.peak_rss_mb,
                    o.peak_rss_mb,
                    r.violations,
                    o.violations,
                    r.missing(),
                    o.missing(),
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{head} {:.1} | {:.1} | {:.0} | {} | {} |",
                    r.applied_per_s,
                    r.status_per_s,
                    r.peak_rss_mb,
                    r.violations,
                    r.missing(),
                );
            }
        }
    }
    for r in results {
        let name = format!(
            "{} {} × {} on {} ({} ms)",
            r.binary, r.installations, r.replicas, r.backend, r.latency_ms
        );
        for (id, w) in r.installations_too_fast.iter().take(10) {
            let _ = writeln!(
                out,
                "- {name}: installation {id} wrote too fast: {} writes, {} under a second apart \
                 (shortest {} ms), at most {} in a minute",
                w.writes,
                w.too_close,
                w.min_gap_ms.unwrap_or(0),
                w.max_per_minute
            );
        }
        if let (Some(first), Some(gap)) = (r.first_write_s, r.write_gap_ms) {
            let _ = writeln!(
                out,
                "- {name}: an installation's first write {first:.2} s after the first delivery, \
                 then one every {gap:.0} ms (medians over installations)"
            );
        }
        for (route, n) in &r.unknown_routes {
            let _ = writeln!(
                out,
                "- {name}: the simulation had no answer to {route} ({n}×)"
            );
        }
        let notes = [
            (r.send_failures, "deliveries not accepted"),
            (
                r.duplicate_status_comments,
                "issues with two status comments",
            ),
            (r.limited, "writes refused over a secondary rate limit"),
            (r.refused, "requests refused for their credentials"),
        ];
        for (n, what) in notes.into_iter().filter(|(n, _)| *n > 0) {
            let _ = writeln!(out, "- {name}: {n} {what}");
        }
        if r.timed_out {
            let _ = writeln!(out, "- {name}: gave up waiting (--github-wait-s)");
        }
        if !r.waited.is_empty() {
            let steps: Vec<String> = r
                .waited
                .iter()
                .map(|(on, secs)| format!("{on} {secs:.1}"))
                .collect();
            let _ = writeln!(
                out,
                "- {name}: seconds spent, all appliers and sender lanes added up: {}",
                steps.join(", ")
            );
        }
        if let Some(commits) = r.commits {
            let _ = writeln!(
                out,
                "- {name}: {commits} commits, {:.2} per delivery (every job's included)",
                commits as f64 / r.deliveries.max(1) as f64
            );
        }
        out.push_str(&seconds_table(&name, r));
    }
    if let Some(r) = first {
        let _ = writeln!(
            out,
            "({} cores, load average {:.2} at the end of the last run)",
            r.cores,
            results.last().map_or(0.0, |r| r.load_avg)
        );
    }
    out
}

/// A run second by second: deliveries applied and GitHub's requests by kind, as the simulation
/// saw them arrive.
fn seconds_table(name: &str, r: &InstallsResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{name}: {} GitHub requests; second by second from the first delivery\n",
        r.requests
    );
    let _ = writeln!(
        out,
        "| s | applied | requests | {} |",
        github_sim::KINDS.join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(3 + github_sim::KINDS.len()));
    for s in &r.per_second {
        let counts: Vec<String> = github_sim::KINDS
            .iter()
            .map(|k| s.requests.get(*k).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.second,
            s.applied,
            s.requests.values().sum::<usize>(),
            counts.join(" | ")
        );
    }
    out
}

/// The targets, read on this build's rows.
pub(super) fn targets(results: &[InstallsResult]) -> String {
    let mut out = String::from("\nTargets\n");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let this: Vec<&InstallsResult> = results.iter().filter(|r| r.binary == "this").collect();
    for r in &this {
        let name = format!(
            "{} {} process(es), {} installations, GitHub {} ms away",
            r.backend,
            r.processes(),
            r.installations,
            r.latency_ms
        );
        let _ = writeln!(
            out,
            "- {name}: {} violations, {} status comments missing: {}",
            r.violations,
            r.missing(),
            verdict(r.violations == 0 && r.missing() == 0 && !r.timed_out)
        );
        if r.installations >= TARGET_INSTALLATIONS
            && r.latency_ms == TARGET_LATENCY_MS
            && r.replicas == 1
            && r.server_cpu.is_none()
        {
            let _ = writeln!(
                out,
                "- {name}: {:.1} status comments/s (≥ {STATUS_TARGET}): {}; {:.1} deliveries \
                 applied/s (≥ {APPLIED_TARGET}): {}",
                r.status_per_s,
                verdict(r.status_per_s >= STATUS_TARGET),
                r.applied_per_s,
                verdict(r.applied_per_s >= APPLIED_TARGET)
            );
        }
        if r.installations >= LARGE_INSTALLATIONS {
            let _ = writeln!(
                out,
                "- {name}: peak RSS {:.0} MB (< {LARGE_RSS_MB} MB): {}",
                r.peak_rss_mb,
                verdict(r.peak_rss_mb < LARGE_RSS_MB),
            );
        }
        let one = this.iter().find(|o| {
            o.backend == "postgres"
                && o.replicas == 1
                && (o.installations, o.latency_ms) == (r.installations, r.latency_ms)
        });
        if let (true, Some(one)) = (r.backend == "postgres" && r.replicas == 2, one) {
            let status = r.status_per_s / one.status_per_s.max(1e-9);
            let applied = r.applied_per_s / one.applied_per_s.max(1e-9);
            let _ = writeln!(
                out,
                "- {name}: two processes do {status:.2}× one's status comments/s and \
                 {applied:.2}× its deliveries applied/s (≥ {REPLICA_TARGET}×): {}",
                verdict(status >= REPLICA_TARGET && applied >= REPLICA_TARGET)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(replicas: usize, server_cpu: Option<f64>, applied: f64, status: f64) -> InstallsResult {
        InstallsResult {
            binary: "this".into(),
            exe: "owp".into(),
            backend: "postgres".into(),
            replicas,
            server_cpu,
            installations: 200,
            repos_per_installation: 2,
            deliveries: 2_000,
            latency_ms: 100,
            senders: 16,
            github_apart: true,
            send_failures: 0,
            sending_s: 1.0,
            applied: 2_000,
            applied_s: Some(2_000.0 / applied),
            applied_per_s: applied,
            status_comments: 2_000,
            duplicate_status_comments: 0,
            status_s: Some(2_000.0 / status),
            status_per_s: status,
            peak_rss_mb: 60.0,
            violations: 0,
            installations_too_fast: BTreeMap::new(),
            first_write_s: None,
            write_gap_ms: None,
            writes: 2_000,
            max_writes_per_minute: 10,
            requests: 5_000,
            per_second: Vec::new(),
            waited: BTreeMap::new(),
            commits: None,
            limited: 0,
            refused: 0,
            unknown_routes: BTreeMap::new(),
            timed_out: false,
            cores: 2,
            load_avg: 0.0,
        }
    }

    #[test]
    fn capped_processes_are_named_and_read_only_against_each_other() {
        let capped = [row(1, Some(0.2), 40.0, 30.0), row(2, Some(0.2), 70.0, 51.0)];
        let table = table(&capped, false);
        assert!(
            table.contains("| postgres | 2 (0.2 cores each) | 200 |"),
            "{table}"
        );
        let read = targets(&capped);
        // A capped process is not read against the one-process targets…
        assert!(!read.contains("(≥ 100)"), "{read}");
        // …but two capped processes are read against one: 1.70× and 1.75×.
        assert!(
            read.contains(
                "1.70× one's status comments/s and 1.75× its deliveries applied/s (≥ 1.6×): met"
            ),
            "{read}"
        );
        let short = [row(1, Some(0.2), 40.0, 30.0), row(2, Some(0.2), 60.0, 51.0)];
        assert!(targets(&short).contains("1.50× its deliveries applied/s (≥ 1.6×): NOT met"));
        // Uncapped, one process is read against the targets as before.
        let one = targets(&[row(1, None, 120.0, 60.0)]);
        assert!(
            one.contains("120.0 deliveries applied/s (≥ 100): met"),
            "{one}"
        );
    }
}
