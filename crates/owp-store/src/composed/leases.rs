//! The statements of leases (`crate::leases`): the claim, ack and move of a task on each path of
//! each backend, built from the scheduling rules' one text ([`crate::claim_rules`]) and the one
//! text of each write a lease move makes ([`effects`]).
//!
//! - [`general`]: the general code's statements, for every case on both backends, and expiry's;
//! - [`sqlite`]: SQLite's plain paths, each a batch of statements sent in one round trip;
//! - [`postgres`]: PostgreSQL's plain paths, each one statement for one worker or several;
//! - [`refusals`]: the claim's conditions read one by one, for a claim by name and the preview.

pub(crate) mod effects;
pub(crate) mod general;
pub(crate) mod postgres;
pub(crate) mod refusals;
pub(crate) mod sqlite;

pub(crate) use effects::Holder;

use super::Variant;
use crate::claim_rules::Pick;

/// A pick of each kind, for the variants of the statements whose text a pick changes.
const PICKS: [Pick; 2] = [
    Pick::First,
    Pick::Named {
        seq: 7,
        insider: true,
    },
];

pub(super) fn variants() -> Vec<Variant> {
    let mut all = general::variants();
    all.extend(sqlite::variants());
    all.extend(postgres::variants());
    all.extend(refusals::variants());
    all
}
