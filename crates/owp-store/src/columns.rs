//! Reading a column of a row by name, whichever connection returned the row: sqlx's rows
//! ([`AnyRow`]) and the rows of the SQLite statements that run on the calling thread
//! ([`crate::engine::sqlite_direct`]), so that one decoder (e.g. `TaskRow::decode`) reads both.

use std::sync::Arc;

use rusqlite::types::ValueRef;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

/// Read access by column name to a row of any source: sqlx's rows, and the rows of the SQLite
/// statements that run on the calling thread ([`crate::engine::sqlite_direct`]).
pub trait Columns {
    fn col<T: Cell>(&self, name: &str) -> Result<T, StoreError>;
}

/// A column type a row is read as: `i64`, `String` and their `Option`s.
pub trait Cell: Sized {
    fn from_any(row: &AnyRow, name: &str) -> Result<Self, StoreError>;
    fn from_plain(value: &Plain) -> Option<Self>;
}

impl Columns for AnyRow {
    fn col<T: Cell>(&self, name: &str) -> Result<T, StoreError> {
        T::from_any(self, name)
    }
}

/// `i64`, `String` and their `Option`s: what every column of these rows is.
macro_rules! cell {
    ($t:ty, |$v:ident| $plain:expr) => {
        impl Cell for $t {
            fn from_any(row: &AnyRow, name: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(name)?)
            }
            fn from_plain($v: &Plain) -> Option<Self> {
                $plain
            }
        }
    };
}

cell!(i64, |v| match v {
    Plain::Int(i) => Some(*i),
    _ => None,
});
cell!(Option<i64>, |v| match v {
    Plain::Int(i) => Some(Some(*i)),
    Plain::Null => Some(None),
    _ => None,
});
cell!(String, |v| match v {
    Plain::Text(s) => Some(s.clone()),
    _ => None,
});
cell!(Option<String>, |v| match v {
    Plain::Text(s) => Some(Some(s.clone())),
    Plain::Null => Some(None),
    _ => None,
});

/// A column value as SQLite stores it.
#[derive(Clone, Debug, PartialEq)]
pub enum Plain {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Plain {
    pub(super) fn read(value: ValueRef<'_>) -> Plain {
        match value {
            ValueRef::Null => Plain::Null,
            ValueRef::Integer(i) => Plain::Int(i),
            ValueRef::Real(f) => Plain::Real(f),
            ValueRef::Text(t) => Plain::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Plain::Blob(b.to_vec()),
        }
    }
}

/// A row a statement on the direct connection returned ([`crate::engine::sqlite_direct`]).
#[derive(Clone, Debug)]
pub struct PlainRow {
    pub(super) names: Arc<[String]>,
    pub(super) values: Vec<Plain>,
}

impl Columns for PlainRow {
    fn col<T: Cell>(&self, name: &str) -> Result<T, StoreError> {
        let Some(i) = self.names.iter().position(|n| n == name) else {
            return Err(StoreError::Db(sqlx::Error::ColumnNotFound(name.into())));
        };
        T::from_plain(&self.values[i]).ok_or_else(|| {
            StoreError::Db(sqlx::Error::Decode(
                format!(
                    "column `{name}` holds {:?}, not a {}",
                    self.values[i],
                    std::any::type_name::<T>()
                )
                .into(),
            ))
        })
    }
}

/// What one statement of a batch returned.
#[derive(Default)]
pub(crate) struct Outcome {
    pub rows: Vec<OutRow>,
    pub affected: u64,
}

/// A row a batch returned, from either kind of connection.
pub(crate) enum OutRow {
    Sqlx(AnyRow),
    Plain(PlainRow),
}

impl Columns for OutRow {
    fn col<T: Cell>(&self, name: &str) -> Result<T, StoreError> {
        match self {
            OutRow::Sqlx(row) => row.col(name),
            OutRow::Plain(row) => row.col(name),
        }
    }
}
