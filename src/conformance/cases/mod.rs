//! The cases, one file per part of the protocol. Each file's `cases()` lists its cases in the
//! order they run; names are `part.what` and stable (expected-failure lists name them).

mod discovery;

use super::Case;

/// Every case, in the order a run takes them.
pub fn all() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(discovery::cases());
    all
}
