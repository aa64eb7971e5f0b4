//! Shared limits: whether any of several names, each with its limit, is spent (as many
//! conditions as names).

use super::{Composed, Variant, variant};

/// How many of the `n` names `$2`, `$4`, … have used their limit `$3`, `$5`, … in a window still
/// open at `$1` (ms).
pub(crate) fn spent(n: usize) -> Composed {
    let clauses: Vec<String> = (0..n.max(1))
        .map(|i| {
            format!(
                "(name = ${} AND used >= ${} AND window_start + span > $1)",
                2 * i + 2,
                2 * i + 3
            )
        })
        .collect();
    Composed::new(format!(
        "SELECT COUNT(*) FROM rate_counts WHERE {}",
        clauses.join(" OR ")
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("limits::spent(1)", spent(1)),
        variant("limits::spent(3)", spent(3)),
    ]
}
