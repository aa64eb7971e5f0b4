//! The statements built at run time, and only they: every other statement of the store is a
//! file of `sql/` that the compiler checks against both schemas.
//!
//! A statement is built here when its text joins a rule's one text (the claim's conditions of
//! [`crate::claim_rules`], the review budget, path overlap, a task in flight, a person's
//! settings) or has a length only its caller knows (a list of ids). Each is a function of this
//! module's files, one file per view; the view binds its arguments and runs it. [`every_statement`]
//! lists every variant of every function, and `tests/it/store_composed.rs` prepares each against
//! freshly migrated SQLite and PostgreSQL databases, so a column that moves fails a test, not a
//! request. Texts are `sqlx::AssertSqlSafe` only here: nothing a caller sends is ever part of
//! one, only the rules' texts, constants and numbered parameters.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AssertSqlSafe, FromRow, SqlSafeStr, SqlStr};

pub(crate) mod board;
pub(crate) mod github;
pub(crate) mod limits;
pub(crate) mod paths;
pub(crate) mod persons;
pub(crate) mod proposals;
pub(crate) mod repos;
pub(crate) mod reputation;
pub(crate) mod reviewers;
pub(crate) mod tasks;
pub(crate) mod workers;

/// A statement's text, made by a function of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed(String);

impl Composed {
    fn new(text: String) -> Composed {
        Composed(text)
    }

    /// Its text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Its text as sqlx takes a statement (to prepare it).
    pub fn into_sql_str(self) -> SqlStr {
        AssertSqlSafe(self.0).into_sql_str()
    }

    /// The statement, to bind and run.
    pub(crate) fn query<'q>(self) -> Query<'q, Any, AnyArguments> {
        sqlx::query(AssertSqlSafe(self.0))
    }

    /// The statement, its rows read as `O`.
    pub(crate) fn query_as<'q, O>(self) -> QueryAs<'q, Any, O, AnyArguments>
    where
        O: for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_as(AssertSqlSafe(self.0))
    }

    /// The statement, the first column of its rows read as `O`.
    pub(crate) fn query_scalar<'q, O>(self) -> QueryScalar<'q, Any, O, AnyArguments>
    where
        (O,): for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_scalar(AssertSqlSafe(self.0))
    }
}

/// The backends a statement runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    Both,
    Sqlite,
    Postgres,
}

/// One variant of a statement of this module: its function's name and arguments, where it runs,
/// and its text.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub runs: Runs,
    pub statement: Composed,
}

/// The parameters `$first`, … of an `IN` list of `n` (at least one), comma-separated.
fn marks(first: usize, n: usize) -> String {
    let marks: Vec<String> = (first..first + n.max(1)).map(|i| format!("${i}")).collect();
    marks.join(", ")
}

fn variant(name: impl Into<String>, statement: Composed) -> Variant {
    Variant {
        name: name.into(),
        runs: Runs::Both,
        statement,
    }
}

/// Every variant of every statement built here (each function with each of the arguments that
/// change its text), for the tests that prepare them.
pub fn every_statement() -> Vec<Variant> {
    let mut all = Vec::new();
    all.extend(board::variants());
    all.extend(github::variants());
    all.extend(limits::variants());
    all.extend(paths::variants());
    all.extend(persons::variants());
    all.extend(proposals::variants());
    all.extend(repos::variants());
    all.extend(reputation::variants());
    all.extend(reviewers::variants());
    all.extend(tasks::variants());
    all.extend(workers::variants());
    all
}
