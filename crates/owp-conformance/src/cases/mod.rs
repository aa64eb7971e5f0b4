//! The cases, one file per part of the protocol. Each file's `cases()` lists its cases in the
//! order they run; names are `part.what` and stable (expected-failure lists name them).

mod abuse;
mod auth;
mod common;
mod concurrency;
mod disclosure;
mod discovery;
mod edges;
mod evidence;
mod expiry;
mod idempotency;
mod lifecycle;
mod moves;
mod objects;
mod order;
mod paths;
mod persons;
mod preview;
mod profile;
mod proposals;
mod realtime;
mod room;
mod rules;
mod seat;
mod vouch;
mod wire;

use super::Case;

/// Every case, in the order a run takes them.
pub fn all() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(discovery::cases());
    all.extend(profile::cases());
    all.extend(wire::cases());
    all.extend(auth::cases());
    all.extend(objects::cases());
    all.extend(lifecycle::cases());
    all.extend(moves::cases());
    all.extend(edges::cases());
    all.extend(idempotency::cases());
    all.extend(abuse::cases());
    all.extend(rules::cases());
    all.extend(concurrency::cases());
    all.extend(expiry::cases());
    all.extend(realtime::cases());
    all.extend(order::cases());
    all.extend(preview::cases());
    all.extend(paths::cases());
    all.extend(seat::cases());
    all.extend(disclosure::cases());
    all.extend(evidence::cases());
    all.extend(proposals::cases());
    all.extend(vouch::cases());
    all.extend(room::cases());
    all.extend(persons::cases());
    all
}
