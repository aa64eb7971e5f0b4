//! The scratch database of a run: its pools, the bulk load of tasks (and of waiting ones), and
//! putting opened tasks back to `ready` while the workers claim.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use http::StatusCode;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::conn::WorkerConn;

use super::*;

/// A database that exists for one run.
pub(super) struct ScratchDb {
    pub(super) url: String,
    /// PostgreSQL: the database's name, to drop afterwards.
    pub(super) pg: Option<String>,
}

impl ScratchDb {
    pub(super) async fn create(
        backend: BenchBackend,
        server: Option<&str>,
        dir: &Path,
    ) -> anyhow::Result<ScratchDb> {
        match backend {
            BenchBackend::Sqlite | BenchBackend::SqliteSqlx => Ok(ScratchDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                pg: None,
            }),
            BenchBackend::Postgres => {
                use sqlx::migrate::MigrateDatabase;
                let server = server.context("no PostgreSQL server URL")?;
                let name = format!("owp_bench_{}", uuid::Uuid::new_v4().simple());
                let url = crate::store::database_url::url_with_database(server, &name);
                // Created from the server's maintenance database, as `createdb` does.
                sqlx::Postgres::create_database(&url)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot create a database at {}",
                            crate::store::database_url::redact_url(server)
                        )
                    })?;
                Ok(ScratchDb {
                    url,
                    pg: Some(name),
                })
            }
        }
    }

    /// Drops a PostgreSQL scratch database, unless `OWP_BENCH_KEEP_DATABASE` is set: then it
    /// is kept, and its name printed, for a look at its plans after the run.
    pub(super) async fn drop_database(&self) {
        use sqlx::migrate::MigrateDatabase;
        let Some(name) = &self.pg else { return };
        if std::env::var_os("OWP_BENCH_KEEP_DATABASE").is_some() {
            eprintln!("kept the scratch database {name}");
            return;
        }
        if let Err(e) = sqlx::Postgres::force_drop_database(&self.url).await {
            eprintln!("warning: could not drop the scratch database {name}: {e}");
        }
    }
}

/// Tasks per HTTP import request (each request imports into one repository, in turn).
pub(super) const HTTP_IMPORT_BATCH: usize = 100;

/// A small pool for loading, recycling and the baseline's setup.
pub(super) async fn tool_pool(backend: BenchBackend, url: &str) -> anyhow::Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend.is_sqlite() {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    // A commit of the recycler (below) writes the log without waiting for the
                    // disk, as the server's commits do.
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // The server checkpoints its database; a checkpoint after each of these
                    // commits would hold the checkpoint lock that its own checkpoints need.
                    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// The baseline's pool: like the server's write pool (one connection on SQLite, whose writers
/// queue anyway; the server's pool size on PostgreSQL).
pub(super) async fn baseline_pool(backend: BenchBackend, url: &str) -> anyhow::Result<AnyPool> {
    let max = match backend {
        BenchBackend::Sqlite | BenchBackend::SqliteSqlx => 1,
        BenchBackend::Postgres => PG_POOL,
    };
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend.is_sqlite() {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Inserts tasks `from..to` (creation order = n), round-robin over the repositories, with the
/// same priorities, points and skill sets as the HTTP sample. One statement per chunk, the same
/// SQL on both backends (a recursive row generator).
pub(super) async fn bulk_load(
    pool: &AnyPool,
    repos: usize,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    if from >= to {
        return Ok(());
    }
    let skills = skill_set_ids(pool).await?;
    let now = crate::store::now_ms();
    let mut start = from;
    while start < to {
        let end = (start + BULK_CHUNK).min(to);
        // Task n goes to the repository ranked n % repos and the skill set ranked n % 4.
        let load = sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM g WHERE n < $2), \
               r(id, k) AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 FROM repos \
                 WHERE name LIKE $9), \
               s(id, k) AS (SELECT id, CASE id WHEN $3 THEN 0 WHEN $4 THEN 1 WHEN $5 THEN 2 \
                 ELSE 3 END FROM skill_sets WHERE id IN ($3, $4, $5, $6)) \
             INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
               skill_set_id, tier, status, extensions, created_at, updated_at) \
             SELECT 't_bench_' || g.n, r.id, 'bench task ' || g.n, '', 1 + g.n % 3, \
               CASE g.n % 4 WHEN 0 THEN 0 WHEN 3 THEN 2 ELSE 1 END, s.id, 0, 'ready', '{}', \
               $7, $7 \
             FROM g JOIN r ON r.k = g.n % $8 JOIN s ON s.k = g.n % 4",
        )
        .bind(start as i64)
        .bind(end as i64 - 1)
        .bind(skills[0])
        .bind(skills[1])
        .bind(skills[2])
        .bind(skills[3])
        .bind(now);
        spread_over_repos(pool, load, repos, end - start, "tasks").await?;
        start = end;
    }
    Ok(())
}

/// Runs a load whose row n goes to the repository ranked n % `repos` among the run's (the
/// load's last two parameters: that count and the names' `LIKE` pattern), and checks that it
/// wrote all `expected` rows: a repository missing would leave some out.
async fn spread_over_repos(
    pool: &AnyPool,
    load: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    repos: usize,
    expected: usize,
    what: &str,
) -> anyhow::Result<()> {
    let loaded = load
        .bind(repos as i64)
        .bind(format!("{REPO_PREFIX}%"))
        .execute(pool)
        .await?
        .rows_affected();
    anyhow::ensure!(
        loaded == expected as u64,
        "loaded {loaded} of {expected} {what}: are the {repos} repositories there?"
    );
    Ok(())
}

/// The path a task of a run with path locks changes: a directory of its own (`src/<name>/**`),
/// named after the id of a loaded task or `http-<i>` for the HTTP sample, so that no two
/// overlap.
pub(super) fn bench_pattern(name: &str) -> String {
    format!("src/{name}/**")
}

/// Rule 10's load of `--path-locks L` (L > 0): every task loaded so far gets its path
/// ([`bench_pattern`] of its id), and `held` more tasks, spread over the repositories, hold
/// theirs. Each of those is `blocked` and waits for a maintainer, which keeps it in flight (it
/// holds its path and one slot of its repository's review budget, counted in `open_prs`) without
/// a lease that could end during the run, and out of the refill's way. No two paths overlap, so
/// every claim's rule 10 looks the held ones up and lets its candidate through.
pub(super) async fn load_paths(pool: &AnyPool, repos: usize, held: usize) -> anyhow::Result<()> {
    sqlx::query(path_rows!("t.status = 'ready'", 0))
        .execute(pool)
        .await?;
    if held == 0 {
        return mark_has_paths(pool).await;
    }
    let skill_id = skill_set_ids(pool).await?[0];
    // Held task n goes to the repository ranked n % repos, as `bulk_load` spreads its tasks.
    let load = sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT n + 1 FROM g \
             WHERE n < $1), \
           r(id, k) AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 FROM repos \
             WHERE name LIKE $5) \
         INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
           skill_set_id, tier, status, status_reason, awaits_maintainer, extensions, created_at, \
           updated_at) \
         SELECT 't_bench_held_' || g.n, r.id, 'held task ' || g.n, '', 1, 1, $2, 0, 'blocked', \
           'owp bench: holds its path', 1, '{}', $3, $3 \
         FROM g JOIN r ON r.k = g.n % $4",
    )
    .bind(held as i64 - 1)
    .bind(skill_id)
    .bind(crate::store::now_ms());
    spread_over_repos(pool, load, repos, held, "held tasks").await?;
    sqlx::query(path_rows!(
        "t.status = 'blocked' AND t.awaits_maintainer = 1",
        1
    ))
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE repos SET open_prs = open_prs + (SELECT COUNT(*) FROM tasks t \
           WHERE t.repo_id = repos.id AND t.awaits_maintainer = 1)",
    )
    .execute(pool)
    .await?;
    mark_has_paths(pool).await
}

/// Marks the tasks that now have paths, as `Store::set_task_paths` does for each.
async fn mark_has_paths(pool: &AnyPool) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE tasks SET has_paths = 1 WHERE has_paths = 0 \
           AND EXISTS (SELECT 1 FROM task_paths p WHERE p.task_seq = tasks.seq)",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The rows of `task_paths` of the tasks `t` that pass the filter, each with its
/// [`bench_pattern`]: one per prefix of the pattern's base (`''`, `src` and, exact,
/// `src/<id>`), as `domain::paths::prefixes` makes them. A fixed text for each filter.
macro_rules! path_rows {
    ($filter:literal, $held:literal) => {
        concat!(
            "INSERT INTO task_paths (task_seq, repo_id, source, pattern, prefix, exact, held) \
             SELECT t.seq, t.repo_id, 'declared', 'src/' || t.id || '/**', \
               CASE p.level WHEN 0 THEN '' WHEN 1 THEN 'src' ELSE 'src/' || t.id END, \
               CASE WHEN p.level = 2 THEN 1 ELSE 0 END, ",
            $held,
            " FROM tasks t CROSS JOIN (SELECT 0 AS level UNION ALL SELECT 1 UNION ALL SELECT 2) p \
             WHERE ",
            $filter
        )
    };
}
use path_rows;

/// Adds `count` critical tasks, each held by an open outside blocker (rule 8), so they come first
/// in the offer order and none may be offered. The triggers of the schema count their blockers.
pub(super) async fn load_waiting(pool: &AnyPool, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let repo_id: i64 = sqlx::query_scalar("SELECT id FROM repos WHERE name = $1")
        .bind(repo_name(0))
        .fetch_one(pool)
        .await?;
    let skill_id = skill_set_ids(pool).await?[0];
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT n + 1 FROM g \
             WHERE n < $1) \
         INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
           skill_set_id, tier, status, extensions, created_at, updated_at) \
         SELECT 't_bench_waiting_' || n, $2, 'waiting task ' || n, '', 1, 3, $3, 0, 'ready', \
           '{}', $4, $4 FROM g",
    )
    .bind(count as i64 - 1)
    .bind(repo_id)
    .bind(skill_id)
    .bind(crate::store::now_ms())
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO task_deps (task_seq, blocker_key, position, holds) \
         SELECT seq, 'bench/outside#1', 0, 1 FROM tasks WHERE id LIKE 't_bench_waiting_%'",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The ids of the four skill sets, created on first use (as an import would).
async fn skill_set_ids(pool: &AnyPool) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for set in SKILL_SETS {
        let mut skills: Vec<&str> = set.to_vec();
        skills.sort_unstable();
        let canonical = skills.join(",");
        sqlx::query("INSERT INTO skill_sets (skills) VALUES ($1) ON CONFLICT (skills) DO NOTHING")
            .bind(&canonical)
            .execute(pool)
            .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM skill_sets WHERE skills = $1")
            .bind(&canonical)
            .fetch_one(pool)
            .await?;
        for skill in &skills {
            sqlx::query(
                "INSERT INTO skill_set_members (skill_set_id, skill) VALUES ($1, $2) \
                 ON CONFLICT (skill_set_id, skill) DO NOTHING",
            )
            .bind(id)
            .bind(*skill)
            .execute(pool)
            .await?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Puts tasks whose PR was opened back to `ready` every 500 ms, keeping the queue at N.
pub(super) struct Recycler {
    pub(super) stop: Arc<AtomicBool>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

impl Recycler {
    /// `counters`: keep the repositories' `open_prs` in step (the OWP run; the baseline's own
    /// updates do not count PRs).
    pub(super) fn start(pool: AnyPool, backend: BenchBackend, counters: bool) -> Recycler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Err(e) = recycle(&pool, backend, counters).await {
                    eprintln!("warning: recycling failed: {e}");
                }
            }
        });
        Recycler { stop, task }
    }

    pub(super) async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

/// `--refill api`: connections that put each opened task back to `ready` through the admin API
/// of the servers, as the tasks arrive on `queue`.
pub(super) struct Refiller {
    pub(super) queue: Opened,
    pub(super) senders: Vec<tokio::task::JoinHandle<u64>>,
}

/// Keep-alive connections of the API refill, spread over the servers.
const REFILL_CONNECTIONS: usize = 32;

/// Where the claim loops send the tasks they opened (`--refill api`).
#[derive(Clone)]
pub(super) struct Opened {
    pub(super) tx: tokio::sync::mpsc::UnboundedSender<String>,
    /// Tasks sent and not yet put back.
    pub(super) pending: Arc<AtomicUsize>,
}

impl Opened {
    pub(super) fn send(&self, task_id: String) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(task_id).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Refiller {
    pub(super) fn start(bases: &[String]) -> Refiller {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let queue = Opened {
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let senders = (0..REFILL_CONNECTIONS)
            .map(|i| {
                let base = bases[i % bases.len()].clone();
                tokio::spawn(refill_loop(base, rx.clone(), queue.pending.clone()))
            })
            .collect();
        Refiller { queue, senders }
    }

    /// The tasks not put back yet when the claim loops stopped, and (after the rest are put
    /// back) the requests that failed.
    pub(super) async fn finish(self) -> (u64, usize) {
        let late = self.queue.pending.load(Ordering::Relaxed);
        drop(self.queue);
        let mut errors = 0;
        for h in self.senders {
            errors += h.await.unwrap_or(1);
        }
        (errors, late)
    }
}

/// One connection of the API refill: takes opened tasks off `rx` until it closes; the number of
/// requests that failed.
async fn refill_loop(
    base: String,
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>>,
    pending: Arc<AtomicUsize>,
) -> u64 {
    let mut errors = 0;
    let mut conn: Option<WorkerConn> = None;
    loop {
        let Some(task_id) = rx.lock().await.recv().await else {
            return errors;
        };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let admin = http::HeaderName::from_static("x-admin-token");
                match WorkerConn::open_with(&base, admin, ADMIN.into()).await {
                    Ok(c) => conn.insert(c),
                    Err(_) => {
                        errors += 1;
                        pending.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
        };
        let body = br#"{"status":"ready","reason":"owp bench refill"}"#.to_vec();
        match c
            .post(&format!("/v1/admin/tasks/{task_id}/status"), Some(body))
            .await
        {
            Ok((status, _)) if status == StatusCode::OK => {}
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                conn = None;
            }
        }
        pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Puts every opened task back to `ready`, repository by repository through the
/// `(repo_id, status)` index: the tasks, then the repository's counter (the lock order of every
/// other transaction).
///
/// On PostgreSQL each repository is a small transaction of its own, so that no counter row stays
/// locked longer than its own update. On SQLite the whole pass is one transaction that takes the
/// write lock as it begins (`BEGIN IMMEDIATE`) and commits without a flush (`synchronous =
/// NORMAL`, see [`tool_pool`]): the server's writer waits for it once per pass, for no longer
/// than the updates take. Separate deferred transactions each waited for the lock behind the
/// server's writer and then held it, with a flush at every commit, for as long as the server's
/// writer slept in SQLite's busy handler: that doubled the claim p99 of closed-loop runs and
/// put 60–80 ms into that of paced ones (see `docs/performance.md`).
pub(super) async fn recycle(
    pool: &AnyPool,
    backend: BenchBackend,
    counters: bool,
) -> Result<(), sqlx::Error> {
    let repos: Vec<i64> = sqlx::query_scalar("SELECT id FROM repos ORDER BY id")
        .fetch_all(pool)
        .await?;
    let now = crate::store::now_ms();
    if backend == BenchBackend::Postgres {
        for repo in repos {
            let mut tx = pool.begin().await?;
            recycle_repo(&mut tx, repo, now, counters).await?;
            tx.commit().await?;
        }
        return Ok(());
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for repo in repos {
        recycle_repo(&mut tx, repo, now, counters).await?;
    }
    tx.commit().await
}

/// The opened tasks of one repository back to `ready`, and its `open_prs` counter with them.
async fn recycle_repo(
    conn: &mut sqlx::AnyConnection,
    repo: i64,
    now: i64,
    counters: bool,
) -> Result<(), sqlx::Error> {
    let n = sqlx::query(
        "UPDATE tasks SET status = 'ready', worker_id = NULL, lease_id = NULL, \
         artifact = NULL, area_lock = NULL, updated_at = $1 \
         WHERE repo_id = $2 AND status = 'pr_opened'",
    )
    .bind(now)
    .bind(repo)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if counters && n > 0 {
        sqlx::query("UPDATE repos SET open_prs = open_prs - $1 WHERE id = $2")
            .bind(n as i64)
            .bind(repo)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, Timing};

    /// The rows the load writes are those the store writes for the same pattern, the held ones
    /// lock what overlaps them, and no ready task waits on another's path.
    #[tokio::test]
    async fn path_locks_are_loaded_as_the_store_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
        let store = Store::open(&url, Timing::default()).await.unwrap();
        for r in 0..2 {
            store
                .repos()
                .upsert(
                    &crate::store::repos::RepoUpsert {
                        name: repo_name(r),
                        max_open_prs: 100,
                        extensions: Default::default(),
                        ..Default::default()
                    },
                    "test",
                )
                .await
                .unwrap();
        }
        let tool = tool_pool(BenchBackend::Sqlite, &url).await.unwrap();
        bulk_load(&tool, 2, 0, 6).await.unwrap();
        load_paths(&tool, 2, 4).await.unwrap();

        let rows = |id: &'static str| {
            let tool = tool.clone();
            async move {
                let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
                    "SELECT p.pattern, p.prefix, p.exact, p.held FROM task_paths p \
                     JOIN tasks t ON t.seq = p.task_seq WHERE t.id = $1 ORDER BY p.prefix",
                )
                .bind(id)
                .fetch_all(&tool)
                .await
                .unwrap();
                rows
            }
        };
        let pattern = bench_pattern("t_bench_3");
        let expected = |held: i64, pattern: &str| -> Vec<(String, String, i64, i64)> {
            crate::domain::paths::prefixes(pattern)
                .into_iter()
                .map(|(prefix, exact)| (pattern.to_string(), prefix, i64::from(exact), held))
                .collect()
        };
        assert_eq!(rows("t_bench_3").await, expected(0, &pattern));
        let held = bench_pattern("t_bench_held_1");
        assert_eq!(rows("t_bench_held_1").await, expected(1, &held));
        let held_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM task_paths WHERE held = 1")
            .fetch_one(&tool)
            .await
            .unwrap();
        assert_eq!(held_rows, 4 * 3);
        // Each held task takes a slot of its repository's review budget.
        let open: Vec<i64> = sqlx::query_scalar("SELECT open_prs FROM repos ORDER BY name")
            .fetch_all(&tool)
            .await
            .unwrap();
        assert_eq!(open, vec![2, 2]);

        let task = store.tasks().get("t_bench_3").await.unwrap().unwrap();
        assert_eq!(task.paths, vec![pattern]);
        assert!(task.path_holds.is_empty(), "{:?}", task.path_holds);
        // A task whose path overlaps a held one waits on it: the held rows are locks.
        let mut input = crate::store::tasks::TaskInput {
            key: None,
            title: "overlapping".into(),
            description: String::new(),
            estimate_points: 1,
            priority: crate::domain::Priority::Normal,
            required_skills: vec![],
            area: None,
            tier: 0,
            extensions: Default::default(),
            blocked_by: None,
            requires: Default::default(),
            paths: Some(vec!["src/t_bench_held_1/lib.rs".into()]),
        };
        let imported = store
            .tasks()
            .import(&repo_name(1), std::slice::from_ref(&input), "test")
            .await
            .unwrap();
        assert_eq!(imported[0].waiting_on_paths(), vec!["t_bench_held_1"]);
        // In another repository the same path is free.
        input.title = "elsewhere".into();
        let imported = store
            .tasks()
            .import(&repo_name(0), &[input], "test")
            .await
            .unwrap();
        assert!(imported[0].waiting_on_paths().is_empty());
        tool.close().await;
        store.close().await;
    }
}
