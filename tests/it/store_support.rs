//! What the storage stories share: a fresh database on each backend (SQLite always, PostgreSQL
//! when `OWP_TEST_DATABASE_URL` names a server), and short ways to drive the store.

use crate::pg_scratch;

use std::future::Future;

use serde_json::{Map, Value, json};

use owp::domain::{Lease, Priority, TaskStatus, WorkerStatus};
use owp::store::repos::RepoUpsert;
use owp::store::rows::{TaskRow, WorkerRow};
use owp::store::tasks::TaskInput;
use owp::store::workers::WorkerInput;
use owp::store::{Store, StoreError, Timing};

pub(crate) const PG_VAR: &str = "OWP_TEST_DATABASE_URL";

/// One backend's database for one test.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) url: String,
    pub(crate) label: &'static str,
    /// PostgreSQL: (server URL, database name), dropped with this value.
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) async fn sqlite(timing: Timing) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("owp.db");
        crate::sqlite_scratch::migrated_copy(&path).await;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = Store::open(&url, timing).await.expect("open sqlite");
        TestDb {
            store,
            url,
            label: "sqlite",
            pg: None,
            _dir: Some(dir),
        }
    }

    pub(crate) async fn postgres(timing: Timing) -> Option<TestDb> {
        let Some(server) = crate::services::postgres_url() else {
            crate::services::missing(
                "postgres",
                "the store's PostgreSQL half",
                &format!("{PG_VAR} is not set"),
            );
            return None;
        };
        let name = pg_scratch::create_migrated(server.trim(), "owp_test").await;
        let url = owp::store::database_url::url_with_database(server.trim(), &name);
        let store = Store::open(&url, timing).await.expect("open postgres");
        Some(TestDb {
            store,
            url,
            label: "postgres",
            pg: Some((server.trim().to_string(), name)),
            _dir: None,
        })
    }

    /// A database of `label`'s backend (`sqlite` or `postgres`) built by the migrations before
    /// `version`, holding the rows `old_rows` writes, then opened as a store (which applies the
    /// migrations from `version` on), as a server upgraded in place would. `None` where
    /// PostgreSQL is not configured.
    pub(crate) async fn upgraded(
        label: &'static str,
        version: i64,
        old_rows: &[&str],
        timing: Timing,
    ) -> Option<TestDb> {
        let (url, pg, dir) = if label == "sqlite" {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
            (url, None, Some(dir))
        } else {
            let Some(server) = crate::services::postgres_url() else {
                crate::services::missing("postgres", "an upgrade", &format!("{PG_VAR} is not set"));
                return None;
            };
            let (url, name) = fresh_pg_database(server.trim()).await;
            (url, Some((server.trim().to_string(), name)), None)
        };
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
        let mut old = if label == "sqlite" {
            sqlx::migrate!("migrations/sqlite")
        } else {
            sqlx::migrate!("migrations/postgres")
        };
        let before: Vec<_> = old
            .migrations
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect();
        assert!(
            before.len() < old.migrations.len(),
            "no migration {version}"
        );
        old.migrations = before.into();
        old.run(&pool).await.expect("the old schema");
        for sql in old_rows {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{label}: {sql}: {e}"));
        }
        pool.close().await;
        let store = Store::open(&url, timing).await.expect("upgrade");
        Some(TestDb {
            store,
            url,
            label,
            pg,
            _dir: dir,
        })
    }

    /// A second store on the same database, as another process would open it.
    pub(crate) async fn replica(&self) -> Store {
        Store::open(&self.url, (*self.store.timing).clone())
            .await
            .expect("open replica")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            pg_scratch::drop_blocking(&server, &name);
        }
    }
}

/// An empty database on the PostgreSQL server of `server`: its URL and its name.
pub(crate) async fn fresh_pg_database(server: &str) -> (String, String) {
    let name = pg_scratch::create(server, "owp_test").await;
    (
        owp::store::database_url::url_with_database(server, &name),
        name,
    )
}

/// Runs `story` on SQLite, then on PostgreSQL when configured.
pub(crate) async fn on_each_backend<F, Fut>(name: &str, timing: Timing, story: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    story(TestDb::sqlite(timing.clone()).await).await;
    match TestDb::postgres(timing).await {
        Some(db) => story(db).await,
        None => eprintln!("{name}: PostgreSQL part skipped"),
    }
}

pub(crate) fn fast_timing() -> Timing {
    Timing {
        lease_ttl_ms: 60_000,
        accept_ttl_ms: 60_000,
        heartbeat_ttl_ms: 60_000,
        max_attempts: 5,
    }
}

pub(crate) fn task(title: &str) -> TaskInput {
    TaskInput {
        key: None,
        title: title.into(),
        description: String::new(),
        estimate_points: 1,
        priority: Priority::Normal,
        required_skills: vec![],
        area: None,
        tier: 0,
        extensions: Map::new(),
        blocked_by: None,
        requires: Map::new(),
        paths: None,
    }
}

/// A task keyed by its title, of `priority`, blocked by the tasks keyed `by`.
pub(crate) fn blocked(title: &str, priority: Priority, by: &[&str]) -> TaskInput {
    let mut t = task(title);
    t.key = Some(title.into());
    t.priority = priority;
    t.blocked_by = (!by.is_empty()).then(|| by.iter().map(|k| k.to_string()).collect());
    t
}

/// The task titled `title` (titles are unique in the stories that use this).
pub(crate) async fn task_named(store: &Store, title: &str) -> TaskRow {
    let tasks = store
        .tasks()
        .list(&Default::default())
        .await
        .expect("tasks");
    tasks
        .into_iter()
        .find(|t| t.title == title)
        .expect("task exists")
}

pub(crate) fn worker_input(name: &str, skills: &[&str], capacity: i64, max: i64) -> WorkerInput {
    WorkerInput::plain(name, skills, capacity, max)
}

pub(crate) async fn repo(store: &Store, name: &str, max_open_prs: i64, area_locks: bool) {
    store
        .repos()
        .upsert(
            &RepoUpsert {
                name: name.into(),
                max_open_prs,
                area_locks_enabled: Some(area_locks),
                extensions: Map::new(),
                ..Default::default()
            },
            "admin",
        )
        .await
        .expect("upsert repo");
}

pub(crate) async fn register(store: &Store, input: WorkerInput) -> WorkerRow {
    store.workers().register(&input).await.expect("register").0
}

pub(crate) async fn claim(store: &Store, worker: &WorkerRow) -> Option<Lease> {
    store
        .write(|mut tx| async move {
            let r = tx.leases().claim(worker).await;
            (tx, r)
        })
        .await
        .expect("claim")
}

pub(crate) async fn ack(
    store: &Store,
    worker: &WorkerRow,
    lease: &Lease,
) -> Result<TaskRow, StoreError> {
    store
        .write(|mut tx| async move {
            let r = tx.leases().ack(&worker.id, &lease.lease_id).await;
            (tx, r)
        })
        .await
}

pub(crate) async fn nack(
    store: &Store,
    worker: &WorkerRow,
    lease: &Lease,
) -> Result<TaskRow, StoreError> {
    store
        .write(|mut tx| async move {
            let r = tx
                .leases()
                .nack(&worker.id, &lease.lease_id, Some("not for me".into()))
                .await;
            (tx, r)
        })
        .await
}

pub(crate) async fn set_status(
    store: &Store,
    worker: &WorkerRow,
    task_id: &str,
    to: TaskStatus,
    artifact: Option<Value>,
) -> Result<TaskRow, StoreError> {
    store
        .write(|mut tx| {
            let artifact = artifact.clone();
            async move {
                let r = tx
                    .leases()
                    .worker_status(&worker.id, task_id, to, artifact, None)
                    .await;
                (tx, r)
            }
        })
        .await
}

pub(crate) async fn open_pr(store: &Store, worker: &WorkerRow, task_id: &str) -> TaskRow {
    let pr = json!({"pr_url": format!("https://example.invalid/pr/{task_id}")});
    set_status(store, worker, task_id, TaskStatus::PrOpened, Some(pr))
        .await
        .expect("pr_opened")
}

pub(crate) async fn admin_status(store: &Store, task_id: &str, to: TaskStatus) -> TaskRow {
    store
        .write(|mut tx| async move {
            let r = tx.leases().admin_status(task_id, to, None, "admin").await;
            (tx, r)
        })
        .await
        .expect("admin status")
}

pub(crate) async fn update_worker(
    store: &Store,
    id: &str,
    trust: Option<i64>,
    status: Option<WorkerStatus>,
) -> WorkerRow {
    store
        .write(|mut tx| async move {
            let r = tx.workers().admin_update(id, trust, status).await;
            (tx, r)
        })
        .await
        .expect("admin update of a worker")
}

pub(crate) async fn title_of(store: &Store, lease: &Option<Lease>) -> Option<String> {
    let lease = lease.as_ref()?;
    let t = store
        .tasks()
        .get(&lease.task.task_id)
        .await
        .expect("task")?;
    Some(t.title)
}

pub(crate) async fn repo_figures(store: &Store, name: &str) -> (i64, i64) {
    let r = store
        .repos()
        .get(name)
        .await
        .expect("repo")
        .expect("repo exists");
    (r.open_prs, r.active_leases)
}

/// The code of a store error, for assertions.
pub(crate) fn code_of(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { code, .. }
        | StoreError::Conflict { code, .. }
        | StoreError::Forbidden { code, .. }
        | StoreError::Invalid { code, .. } => code,
        other => panic!("unexpected error {other:?}"),
    }
}

/// Where PostgreSQL's claim queue (`task_queue`) is out of step with `tasks`: a claimable task
/// (ready, waiting on nothing) without its queue row, a queue row of a task that is not
/// claimable, or one whose copied columns differ. Empty on SQLite, which has no queue.
pub(crate) async fn queue_drift<'a, P>(db: &'a P) -> Vec<String>
where
    &'a P: sqlx::Executor<'a, Database = sqlx::Any>,
{
    use sqlx::Row;
    let postgres = sqlx::query("SELECT to_regclass('task_queue') IS NOT NULL AS q")
        .fetch_one(db)
        .await
        .is_ok_and(|r| r.try_get::<bool, _>("q").unwrap_or(false));
    if !postgres {
        return Vec::new();
    }
    let rows = sqlx::query(
        "SELECT COALESCE(t.seq, q.seq) AS seq, t.seq IS NOT NULL AS claimable, \
           q.seq IS NOT NULL AS queued \
         FROM (SELECT seq, repo_id, priority, skill_set_id, estimate_points, tier, area, requires \
               FROM tasks WHERE status = 'ready' AND waiting = 0) t \
         FULL JOIN task_queue q ON q.seq = t.seq \
         WHERE t.seq IS NULL OR q.seq IS NULL \
           OR (t.repo_id, t.priority, t.skill_set_id, t.estimate_points, t.tier, t.area, \
               t.requires) IS DISTINCT FROM (q.repo_id, q.priority, q.skill_set_id, \
               q.estimate_points, q.tier, q.area, q.requires)",
    )
    .fetch_all(db)
    .await
    .expect("compare the claim queue with tasks");
    rows.iter()
        .map(|r| {
            let seq: i64 = r.get("seq");
            match (r.get::<bool, _>("claimable"), r.get::<bool, _>("queued")) {
                (true, false) => format!("claimable task #{seq} is missing from the queue"),
                (false, true) => format!("task #{seq} is queued but not claimable"),
                _ => format!("the queue row of task #{seq} differs from the task"),
            }
        })
        .collect()
}

/// Runs a raw statement on the test's database, beside the store (to set what the store's own
/// operations do not: an old contact, an old lease, a stored value past today's bounds).
pub(crate) async fn raw(db: &TestDb, sql: &str, binds: &[i64]) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.label));
    pool.close().await;
}

/// Each story on SQLite and on PostgreSQL, as a test of its own named for the backend.
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {$(
        mod $story {
            use crate::store_support::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$story(TestDb::sqlite(fast_timing()).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = TestDb::postgres(fast_timing()).await {
                    super::$story(db).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// Takes one content-creating request of installation `id`'s budget with `pacing`, in flight
/// until answered, in a transaction of its own (as the comment sender's claim takes it):
/// `Ok(at)` reserved, `Err(until)` it waits.
pub(crate) async fn take_write(
    store: &Store,
    id: i64,
    status: bool,
    pacing: &owp::store::github::write_pacing::WritePacing,
) -> Result<i64, i64> {
    let mut tx = store.begin().await.unwrap();
    let taken = tx.pacing().take(id, status, pacing, 0).await.unwrap();
    if taken.is_ok() {
        tx.commit().await.unwrap();
    }
    taken
}

/// Takes one request of GitHub's own budgets (no second between writes, none in flight):
/// `None` when it may go now, `Some(until)` when it waits.
pub(crate) async fn reserve_write(store: &Store, id: i64, status: bool) -> Option<i64> {
    let budgets = owp::store::github::write_pacing::WritePacing {
        spacing_ms: 0,
        in_flight_ms: 0,
        ..Default::default()
    };
    take_write(store, id, status, &budgets).await.err()
}

/// GitHub answered the write of installation `id` reserved at `at` and sent at `sent`.
pub(crate) async fn write_answered(store: &Store, id: i64, at: i64, sent: i64) {
    let mut tx = store.begin().await.unwrap();
    tx.pacing().settled(id, at, Some(sent)).await.unwrap();
    tx.commit().await.unwrap();
}
