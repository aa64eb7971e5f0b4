//! Database URLs as the operator gives them: printed without their password, and pointed at
//! another database of the same server (a scratch database for the benchmark or a test).

/// Removes the password from a database URL before it is printed.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _password)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// A server URL (`postgres://user@host:port/db?options`) with its database replaced by `name`,
/// the query string kept: how the benchmark and the tests point at a scratch database of theirs.
pub fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://owp:hunter2@db:5432/owp"),
            "postgres://owp:***@db:5432/owp"
        );
        assert_eq!(redact_url("postgres://db/owp"), "postgres://db/owp");
    }

    #[test]
    fn scratch_database_urls_keep_the_query() {
        assert_eq!(
            url_with_database(
                "postgres://u@h:5432/postgres?sslmode=disable",
                "owp_bench_x"
            ),
            "postgres://u@h:5432/owp_bench_x?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://h", "db"), "postgres://h/db");
    }
}
