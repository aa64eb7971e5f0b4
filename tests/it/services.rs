//! Optional services: PostgreSQL (`OWP_TEST_DATABASE_URL`), Chromium, Node.js and the Python ACP
//! SDK (`acp`, in `target/acp-venv`).
//!
//! On a developer's machine a test that needs a missing service says so on stderr and skips. Where
//! `OWP_REQUIRE_SERVICES` names the service (a comma-separated list, or `all`), a missing service
//! fails the test instead: `.ci/run` installs all of them and sets it, so a test named for
//! PostgreSQL, Chromium, Node or the ACP SDK never passes there without having run.

/// The variable naming the services that must be present.
pub const REQUIRE_VAR: &str = "OWP_REQUIRE_SERVICES";

/// Whether `service` (`postgres`, `chromium`, `node` or `acp`) is required here.
pub fn required(service: &str) -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|list| listed(&list, service))
}

/// Whether the comma-separated `list` names `service` (or `all`).
fn listed(list: &str, service: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|s| s == service || s == "all")
}

/// Says that `test` skips because `service` is missing (`why`); panics instead where the service is
/// required.
pub fn missing(service: &str, test: &str, why: &str) {
    assert!(
        !required(service),
        "{test}: {service} is required here ({REQUIRE_VAR}) but missing: {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
}

/// Whether `OWP_TEST_DATABASE_URL` names a PostgreSQL server; otherwise says that `test` skips
/// (or fails it, where PostgreSQL is required).
pub fn postgres_enabled(test: &str) -> bool {
    let set = postgres_url().is_some();
    if !set {
        missing("postgres", test, "OWP_TEST_DATABASE_URL is not set");
    }
    set
}

/// Whether the tests that name no backend run on PostgreSQL too (`OWP_TEST_BACKEND=postgres`, with
/// `OWP_TEST_DATABASE_URL` naming the server); otherwise they run on SQLite, the default backend.
pub fn postgres_by_default() -> bool {
    std::env::var("OWP_TEST_BACKEND").is_ok_and(|b| b.trim().eq_ignore_ascii_case("postgres"))
}

/// The PostgreSQL server URL of `OWP_TEST_DATABASE_URL`, trimmed, when it is set and not empty.
pub fn postgres_url() -> Option<String> {
    std::env::var("OWP_TEST_DATABASE_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
}

#[test]
fn the_required_list_names_services_or_all() {
    assert!(listed("postgres, node", "node"));
    assert!(listed("all", "chromium"));
    assert!(!listed("postgres", "chromium"));
    assert!(!listed("", "postgres"));
}
