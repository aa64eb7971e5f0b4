//! The server URL a person gives the `owp` clients (`--server`, `owp worker join URL`), checked
//! before anything is sent: one plain line for a URL that cannot work ("the port must be
//! 1–65535", "use http:// or https://"), and a dashboard page pasted from the browser
//! (`…/board/state`, `…/login`, a `#fragment`) taken back to the server's base URL.

/// The first path segments of pages and API routes the service itself serves: a URL whose path
/// reaches one of them was copied from a page or a request, and the server's base URL is what
/// comes before it.
const SERVICE_SEGMENTS: [&str; 9] = [
    "board",
    "dashboard",
    "login",
    "logout",
    "assets",
    "v1",
    "healthz",
    "metrics",
    "auth",
];

/// A checked server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// `scheme://host[:port][/prefix]`, without a trailing `/`.
    pub base: String,
    /// What was taken off the given URL (a page path, a query, a fragment), to tell the person.
    pub dropped: Option<String>,
}

/// Why a server URL cannot be used: `{input} is not a valid server URL: {why}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input} is not a valid server URL: {why}")]
pub struct BadServerUrl {
    pub input: String,
    pub why: String,
}

/// Checks a server URL and brings it to its base. A bare `host:port` means `http://host:port`.
pub fn parse(input: &str) -> Result<ServerUrl, BadServerUrl> {
    let given = input.trim();
    let bad = |why: &str| BadServerUrl {
        input: if given.is_empty() {
            "\"\"".to_string()
        } else {
            given.chars().take(200).collect()
        },
        why: why.to_string(),
    };
    if given.is_empty() {
        return Err(bad(
            "give the server's address, e.g. https://pool.example.org",
        ));
    }
    let with_scheme = if given.contains("://") {
        given.to_string()
    } else {
        format!("http://{given}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        bad(match e {
            url::ParseError::InvalidPort => "the port must be 1–65535",
            url::ParseError::EmptyHost => "it names no host",
            url::ParseError::InvalidIpv4Address | url::ParseError::InvalidIpv6Address => {
                "its IP address is not valid"
            }
            url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter => {
                "its host name has characters a host name cannot have"
            }
            _ => "write it as http(s)://host[:port], e.g. https://pool.example.org",
        })
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use http:// or https://"));
    }
    if url.port() == Some(0) {
        return Err(bad("the port must be 1–65535"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "leave the user name and password out of it (they would be sent to the server)",
        ));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let keep = segments
        .iter()
        .position(|s| SERVICE_SEGMENTS.contains(&s.to_ascii_lowercase().as_str()))
        .unwrap_or(segments.len());
    let mut base = url.origin().ascii_serialization();
    for segment in &segments[..keep] {
        base.push('/');
        base.push_str(segment);
    }
    let mut dropped = String::new();
    if keep < segments.len() {
        dropped.push('/');
        dropped.push_str(&segments[keep..].join("/"));
    }
    if let Some(query) = url.query() {
        dropped.push('?');
        dropped.push_str(query);
    }
    if let Some(fragment) = url.fragment() {
        dropped.push('#');
        dropped.push_str(fragment);
    }
    Ok(ServerUrl {
        base,
        dropped: (!dropped.is_empty()).then(|| dropped.chars().take(200).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(input: &str) -> String {
        parse(input).unwrap_or_else(|e| panic!("{e}")).base
    }

    fn why(input: &str) -> String {
        parse(input).unwrap_err().to_string()
    }

    #[test]
    fn bases_are_kept_and_completed() {
        assert_eq!(base("http://127.0.0.1:8787/"), "http://127.0.0.1:8787");
        assert_eq!(base(" localhost:9000 "), "http://localhost:9000");
        assert_eq!(base("https://owp.example.org"), "https://owp.example.org");
        assert_eq!(
            base("HTTPS://Owp.Example.org:443"),
            "https://owp.example.org"
        );
        assert_eq!(base("https://example.org/owp/"), "https://example.org/owp");
        assert_eq!(parse("https://x.org").unwrap().dropped, None);
    }

    #[test]
    fn pasted_pages_lead_back_to_the_base() {
        for pasted in [
            "https://pool.example.org/board/state",
            "https://pool.example.org/dashboard",
            "https://pool.example.org/login?next=/",
            "https://pool.example.org/#/tasks",
            "https://pool.example.org/v1/workers/register",
        ] {
            let url = parse(pasted).unwrap();
            assert_eq!(url.base, "https://pool.example.org", "{pasted}");
            assert!(url.dropped.is_some(), "{pasted}");
        }
        let url = parse("https://example.org/owp/board/events").unwrap();
        assert_eq!(url.base, "https://example.org/owp");
        assert_eq!(url.dropped.as_deref(), Some("/board/events"));
    }

    #[test]
    fn unusable_urls_say_why_in_one_line() {
        assert_eq!(
            why("http://x:99999"),
            "http://x:99999 is not a valid server URL: the port must be 1–65535"
        );
        assert!(why("http://x:0").ends_with("the port must be 1–65535"));
        assert!(why("ftp://x.org").ends_with("use http:// or https://"));
        assert!(why("file:///etc/passwd").ends_with("use http:// or https://"));
        assert!(why("http://").ends_with("it names no host"));
        assert!(why("http://user:pw@x.org").contains("password"));
        assert!(why("  ").contains("give the server's address"));
        assert!(!why("http://exa mple.org").contains('\n'));
    }
}
