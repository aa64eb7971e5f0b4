//! The statements built at run time, and only they: every other statement of the store is a
//! file of `sql/` that the compiler checks against both schemas.
//!
//! A statement is built here when its text joins a rule's one text (the claim's conditions of
//! [`crate::claim_rules`], the review budget, path overlap, a task in flight, a person's
//! settings), has a length only its caller knows (a list of ids), or is a setting SQLite takes
//! without parameters. Each is a function of this module's files, one file per view; the view
//! binds its arguments and runs it. The leases' statements ([`leases`]: the claims, acks and
//! moves of both backends' paths, and the one text of each write they make) are the largest
//! part. [`every_statement`] lists every variant of every function, and
//! `tests/it/store_composed.rs` prepares each against freshly migrated SQLite and PostgreSQL
//! databases (a SQLite batch statement by statement), so a column that moves fails a test, not
//! a request. Texts are `sqlx::AssertSqlSafe` only here: nothing a caller sends is ever part of
//! one, only the rules' texts, constants, integers and numbered parameters.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AssertSqlSafe, FromRow, SqlSafeStr, SqlStr};

pub(crate) mod board;
pub(crate) mod events;
pub(crate) mod github;
pub(crate) mod leases;
pub(crate) mod limits;
pub(crate) mod paths;
pub(crate) mod persons;
pub(crate) mod proposals;
pub(crate) mod repos;
pub(crate) mod reputation;
pub(crate) mod reviewers;
pub(crate) mod sqlite;
pub(crate) mod tasks;
pub(crate) mod upgrade;
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

    /// Its statements, for a text that is a batch of several (`;`-separated), each to prepare
    /// on its own. A `;` inside a quoted string or a dollar-quoted body separates nothing.
    pub fn statements(&self) -> Vec<Composed> {
        let mut out = Vec::new();
        let (mut start, mut quoted, mut dollars) = (0, false, false);
        let bytes = self.0.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\'' if !dollars => quoted = !quoted,
                b'$' if !quoted
                    && bytes.get(i + 1) == Some(&b'$')
                    && bytes.get(i.wrapping_sub(1)) != Some(&b'$') =>
                {
                    dollars = !dollars
                }
                b';' if !quoted && !dollars => {
                    out.push(&self.0[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&self.0[start..]);
        out.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Composed(s.to_string()))
            .collect()
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

/// The strings of the JSON array `$1`, as the rows of a subquery (for `x IN (…)`).
fn json_strings(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
        crate::Backend::Sqlite => "SELECT value FROM json_each($1)",
    }
}

fn variant(name: impl Into<String>, statement: Composed) -> Variant {
    Variant {
        name: name.into(),
        runs: Runs::Both,
        statement,
    }
}

/// A variant that runs on `backend` alone.
fn variant_on(backend: crate::Backend, name: impl Into<String>, statement: Composed) -> Variant {
    Variant {
        runs: match backend {
            crate::Backend::Sqlite => Runs::Sqlite,
            crate::Backend::Postgres => Runs::Postgres,
        },
        ..variant(name, statement)
    }
}

/// Both backends, for the variants of a statement whose text differs between them.
const BACKENDS: [crate::Backend; 2] = [crate::Backend::Sqlite, crate::Backend::Postgres];

/// Every variant of every statement built here (each function with each of the arguments that
/// change its text), for the tests that prepare them.
pub fn every_statement() -> Vec<Variant> {
    let mut all = Vec::new();
    all.extend(board::variants());
    all.extend(events::variants());
    all.extend(github::variants());
    all.extend(leases::variants());
    all.extend(limits::variants());
    all.extend(paths::variants());
    all.extend(persons::variants());
    all.extend(proposals::variants());
    all.extend(repos::variants());
    all.extend(reputation::variants());
    all.extend(reviewers::variants());
    all.extend(sqlite::variants());
    all.extend(tasks::variants());
    all.extend(upgrade::variants());
    all.extend(workers::variants());
    all
}
