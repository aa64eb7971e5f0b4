//! How a visitor joins this pool: the `owp worker join` command with the service's own address,
//! shown on the public board, and the short guide at `GET /join`.
//!
//! The address is the one the visitor reached: the request's `Host` (with `https` when it came
//! over TLS, see [`super::is_https`]). A `Host` that is not a plain `host[:port]` is not shown;
//! everything shown is HTML-escaped.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::{ASSET_VERSION, Dashboard, escape, html};

const JOIN_HTML: &str = include_str!("assets/join.html");

/// Shown in place of an address that cannot be shown.
const SOME_SERVER: &str = "https://THIS-SERVER";

/// `GET /join`: the guide.
pub async fn page(State(d): State<Dashboard>, headers: HeaderMap) -> Response {
    let (_, css_v) = &*ASSET_VERSION;
    html(
        StatusCode::OK,
        JOIN_HTML
            .replace("{{css_v}}", css_v)
            .replace(
                "{{get_owp}}",
                &get_owp(
                    d.pages.download_url.as_deref(),
                    d.pages.source_url.as_deref(),
                ),
            )
            .replace("{{join_command}}", &command(&headers)),
    )
}

/// "1. Get owp": the download address (`OWP_DOWNLOAD_URL`, else the releases of the repository
/// this `owp` was built from) and the source to build it from, each linked when known. With
/// neither known, the page says so and asks the visitor to ask the operator: never a link to
/// nowhere.
fn get_owp(download_url: Option<&str>, source_url: Option<&str>) -> String {
    let build = match source_url {
        Some(url) => format!(
            "build it from <a href=\"{url}\">its source</a> with Rust (<code>cargo build \
             --release</code>)",
            url = escape(url)
        ),
        None => "build it from the project's source with Rust (<code>cargo build --release</code>)"
            .to_string(),
    };
    match download_url {
        Some(url) => format!(
            "<p>One program for Linux, macOS and Windows: <a href=\"{url}\">download it</a> \
             (<code>{url}</code>; each release lists SHA-256 checksums), or {build}.</p>",
            url = escape(url)
        ),
        None => format!(
            "<p>One program for Linux, macOS and Windows: {build}. This pool does not say where \
             to download a released one: ask its operator, who can name it \
             (<code>OWP_DOWNLOAD_URL</code>).</p>"
        ),
    }
}

/// `owp worker join BASE_URL`, HTML-escaped.
pub fn command(headers: &HeaderMap) -> String {
    let base = base_url(headers).unwrap_or_else(|| SOME_SERVER.to_string());
    escape(&format!("owp worker join {base}"))
}

/// `http(s)://HOST[:PORT]` as the visitor reached the service, if the `Host` header is a plain
/// host name or address with an optional port.
fn base_url(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !plain {
        return None;
    }
    let scheme = if super::is_https(headers) {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_host(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn the_download_link_is_the_operators_and_escaped() {
        let text = get_owp(Some("https://example.org/releases?a=1&b=\"2\""), None);
        assert!(
            text.contains("href=\"https://example.org/releases?a=1&amp;b=&quot;2&quot;\""),
            "{text}"
        );
        let source = get_owp(None, Some("https://example.org/src"));
        assert!(source.contains("<a href=\"https://example.org/src\">its source</a>"));
        // Nothing known: no link at all, and who to ask.
        let unknown = get_owp(None, None);
        assert!(!unknown.contains("href"), "{unknown}");
        assert!(unknown.contains("ask its operator"), "{unknown}");
    }

    #[test]
    fn the_command_names_the_address_the_visitor_used() {
        assert_eq!(
            command(&with_host("127.0.0.1:8080")),
            "owp worker join http://127.0.0.1:8080"
        );
        let mut h = with_host("pool.example.org");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(command(&h), "owp worker join https://pool.example.org");
        for hostile in ["a\"><script>", "a b", "user@evil.test"] {
            assert_eq!(
                command(&with_host(hostile)),
                "owp worker join https://THIS-SERVER"
            );
        }
        assert_eq!(
            command(&HeaderMap::new()),
            "owp worker join https://THIS-SERVER"
        );
    }
}
