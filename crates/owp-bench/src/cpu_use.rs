//! Where a run's CPU goes: the CPU time per claim (or bare cycle) of the database server, the
//! claim servers and this process (the load generator), over the measured windows.
//!
//! Read from `/proc/<pid>/stat` (Linux). The database's share is that of the PostgreSQL backends
//! serving the run's database (`pg_stat_activity`), which can be read only when the server runs
//! on this machine; elsewhere, and on SQLite (the database runs inside the claim server), it is
//! not reported. On other systems nothing is reported.

use std::collections::HashMap;

use sqlx::AnyPool;

/// Clock ticks per second of `/proc/<pid>/stat`'s `utime` and `stime` (Linux's `USER_HZ`, 100
/// on every architecture a server runs on).
const TICKS_PER_S: f64 = 100.0;

/// The processes whose CPU a run reads.
pub(super) struct CpuProbe {
    /// The claim servers' process ids.
    servers: Vec<u32>,
    /// PostgreSQL: a connection to the run's database, to list its backends.
    db: Option<AnyPool>,
}

/// CPU ticks used so far, per part.
#[derive(Default)]
pub(super) struct CpuSnapshot {
    /// Per PostgreSQL backend (`None`: not readable here).
    db: Option<HashMap<u32, u64>>,
    server: u64,
    load: u64,
}

/// Milliseconds of CPU per claim (or cycle), per part.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(super) struct CpuUse {
    pub db_ms: Option<f64>,
    pub server_ms: f64,
    pub load_ms: f64,
}

impl CpuUse {
    /// The table cell: `db + server + load`, each in ms per claim, `–` for what was not read.
    pub(super) fn cell(use_: Option<CpuUse>, with_server: bool) -> String {
        let Some(u) = use_ else {
            return "–".into();
        };
        let db = u.db_ms.map_or("–".into(), |v| format!("{v:.2}"));
        if with_server {
            format!("{db} + {:.2} + {:.2}", u.server_ms, u.load_ms)
        } else {
            format!("{db} + {:.2}", u.load_ms)
        }
    }
}

impl CpuProbe {
    /// A probe of `servers` (process ids) and, on PostgreSQL, of the backends of `db`'s
    /// database. `None` where `/proc` cannot be read.
    pub(super) fn new(servers: Vec<u32>, db: Option<AnyPool>) -> Option<CpuProbe> {
        ticks(std::process::id())?;
        Some(CpuProbe { servers, db })
    }

    pub(super) async fn snapshot(&self) -> CpuSnapshot {
        let db = match &self.db {
            Some(pool) => backends(pool).await,
            None => None,
        };
        CpuSnapshot {
            db,
            server: self.servers.iter().filter_map(|p| ticks(*p)).sum(),
            load: ticks(std::process::id()).unwrap_or(0),
        }
    }
}

impl CpuSnapshot {
    /// The CPU per claim from `self` to `later`, over `claims` claims. A backend that started
    /// in between counts from its start.
    pub(super) fn per_claim(&self, later: &CpuSnapshot, claims: u64) -> Option<CpuUse> {
        if claims == 0 {
            return None;
        }
        let ms = |ticks: u64| ticks as f64 / TICKS_PER_S * 1000.0 / claims as f64;
        let db = match (&self.db, &later.db) {
            (Some(before), Some(after)) => Some(ms(after
                .iter()
                .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
                .sum())),
            _ => None,
        };
        Some(CpuUse {
            db_ms: db,
            server_ms: ms(later.server.saturating_sub(self.server)),
            load_ms: ms(later.load.saturating_sub(self.load)),
        })
    }
}

/// The CPU ticks of the backends serving the pool's database, when they run on this machine.
/// A backend that ended since it was listed is left out (what it used since the last snapshot
/// is lost); none found here at all means the server runs elsewhere.
async fn backends(pool: &AnyPool) -> Option<HashMap<u32, u64>> {
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .ok()?;
    let mut out = HashMap::new();
    for pid in pids {
        let pid = u32::try_from(pid).ok()?;
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        // A process of that id that is not PostgreSQL's: the server runs elsewhere.
        if !comm.starts_with("postgres") {
            return None;
        }
        if let Some(t) = ticks(pid) {
            out.insert(pid, t);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// User and system CPU ticks of process `pid` (all its threads), from `/proc/<pid>/stat`.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

fn parse_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces; fields 14 and 15 (utime,
    // stime) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_a_command_name_with_spaces() {
        let stat = "4242 (postgres: owp x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(parse_ticks(stat), Some(281));
        assert_eq!(parse_ticks("4242 (cut"), None);
    }

    #[test]
    fn cpu_is_shared_out_per_claim_and_new_backends_count_from_their_start() {
        let before = CpuSnapshot {
            db: Some(HashMap::from([(1, 100), (2, 50)])),
            server: 1_000,
            load: 10,
        };
        let after = CpuSnapshot {
            db: Some(HashMap::from([(1, 300), (2, 50), (3, 100)])),
            server: 1_200,
            load: 30,
        };
        let u = before.per_claim(&after, 1_000).expect("claims");
        // 300 ticks = 3 s of the database over 1,000 claims: 3 ms each.
        assert_eq!(u.db_ms, Some(3.0));
        assert_eq!(u.server_ms, 2.0);
        assert_eq!(u.load_ms, 0.2);
        assert!(before.per_claim(&after, 0).is_none());
        let elsewhere = CpuSnapshot::default();
        assert_eq!(elsewhere.per_claim(&after, 10).unwrap().db_ms, None);
    }

    #[test]
    fn this_process_uses_cpu() {
        if let Some(t) = ticks(std::process::id()) {
            // Spin until the clock ticks: on a busy machine 100 ms of wall time may hold no tick
            // of this process's own, so the spin goes on (up to 10 s) until one is counted.
            let spin = std::time::Instant::now();
            let mut x = 0u64;
            while ticks(std::process::id()).unwrap() <= t
                && spin.elapsed() < std::time::Duration::from_secs(10)
            {
                for _ in 0..1_000_000 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            assert!(ticks(std::process::id()).unwrap() > t, "{x}");
        }
    }
}
