//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations/` folders at compile time. Records the repository the build's source comes from
//! (`OWP_SOURCE_REPOSITORY`, else Cargo's `repository`, else the repository GitHub Actions builds),
//! which the `/join` page links where the operator names no download address.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    for var in [
        "OWP_SOURCE_REPOSITORY",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let set = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let actions = match (set("GITHUB_SERVER_URL"), set("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{}/{}", server.trim_end_matches('/'), repo)),
        _ => None,
    };
    let source = set("OWP_SOURCE_REPOSITORY")
        .or_else(|| set("CARGO_PKG_REPOSITORY"))
        .or(actions)
        .unwrap_or_default();
    println!("cargo:rustc-env=OWP_SOURCE_REPOSITORY={}", source.trim());
}
