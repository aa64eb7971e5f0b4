//! Migration 0086 makes a repository's reviewers people: on a database that kept reviewers by
//! login only, each listed login that names exactly one person the pool has met (`persons`) is
//! given that person's account id, with the reviews it holds; the others are left to be resolved
//! (no reviewer with room until then).

use std::borrow::Cow;
use std::path::PathBuf;

use sqlx::AnyPool;
use sqlx::migrate::Migrator;

use crate::store_support::fresh_pg_database;

/// The migrations of `backend`: those before 0086, and all of them.
async fn migrators(backend: &str) -> (Migrator, Migrator) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let all = Migrator::new(dir.clone()).await.expect("the migrations");
    let mut before = Migrator::new(dir).await.expect("the migrations");
    before.migrations = Cow::Owned(
        all.migrations
            .iter()
            .filter(|m| m.version < 86)
            .cloned()
            .collect(),
    );
    (before, all)
}

async fn fills_known_reviewers(backend: &str, url: &str) {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.expect("the database");
    let (before, all) = migrators(backend).await;
    before.run(&pool).await.expect("the migrations before 0086");
    for sql in [
        "INSERT INTO repos (id, name, max_open_prs, created_at, updated_at) \
         VALUES (7, 'octo/hello', 4, 0, 0)",
        "INSERT INTO persons (account_id, login, first_seen_at) VALUES (101, 'Alice', 0)",
        // Two accounts the pool met under the same login (one renamed since): neither is taken.
        "INSERT INTO persons (account_id, login, first_seen_at) VALUES (102, 'bob', 0)",
        "INSERT INTO persons (account_id, login, first_seen_at) VALUES (103, 'Bob', 0)",
        "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity) \
         VALUES (7, 'alice', 'alice', 2)",
        "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity) \
         VALUES (7, 'bob', 'bob', 1)",
        "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity) \
         VALUES (7, 'ghost', 'ghost', 1)",
        "INSERT INTO task_reviews (task_seq, repo_id, reviewer, assigned_at) \
         VALUES (1, 7, 'alice', 0)",
        "INSERT INTO task_reviews (task_seq, repo_id, reviewer, assigned_at) \
         VALUES (2, 7, 'bob', 0)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    all.run(&pool).await.expect("migration 0086");
    let reviewers: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT login_key, account_id FROM repo_reviewers WHERE repo_id = 7 ORDER BY login_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        reviewers,
        [
            ("alice".to_string(), Some(101)),
            ("bob".to_string(), None),
            ("ghost".to_string(), None),
        ]
    );
    let reviews: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT task_seq, reviewer_id FROM task_reviews ORDER BY task_seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(reviews, [(1, Some(101)), (2, None)]);
    pool.close().await;
}

#[tokio::test]
async fn reviewers_the_pool_knows_become_people_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
    fills_known_reviewers("sqlite", &url).await;
}

#[tokio::test]
async fn reviewers_the_pool_knows_become_people_postgres() {
    if !crate::services::postgres_enabled("reviewers_the_pool_knows_become_people_postgres") {
        return;
    }
    let server = crate::services::postgres_url().unwrap();
    let (url, name) = fresh_pg_database(&server).await;
    fills_known_reviewers("postgres", &url).await;
    crate::pg_scratch::drop_blocking(&server, &name);
}
