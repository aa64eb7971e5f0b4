//! What the `owp` clients accept from a server, whoever runs it: answers of at most
//! [`MAX_ANSWER_BYTES`], and redirects only within the server's own origin, so that no token
//! (`X-Admin-Token`, the worker's bearer token) and no request body ever reaches another host.
//! `docs/security.md` ("What the owp clients send and accept") describes these limits.

use std::time::Duration;

use reqwest::redirect::{Attempt, Policy};

/// The largest answer the clients read from the OWP API. The biggest sound answer, an admin's
/// `GET /v1/admin/state` of a busy pool, is well under it; an endless or oversized answer is cut
/// off here, with one line saying so.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// `4 MiB`, for messages.
pub fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Redirects followed within one origin before giving up.
const MAX_REDIRECTS: usize = 5;

/// The HTTP client of the `owp` clients: their user agent, a connection timeout, and redirects
/// followed only to the same scheme, host and port as the request that was redirected.
pub fn http_client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent(concat!("owp-cli/", env!("CARGO_PKG_VERSION")))
        .redirect(Policy::custom(same_origin_only))
        .build()
}

/// Follows a redirect only within the origin the first request went to; anything else stops, and
/// the 3xx answer reaches the caller (which says where the server wanted to send it).
fn same_origin_only(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first();
    let same = first.is_some_and(|first| first.origin() == attempt.url().origin());
    if same && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// Why an answer could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The answer is longer than the limit (by its `Content-Length`, or as it arrived).
    TooLarge,
    /// The connection failed or timed out while reading.
    Http(reqwest::Error),
}

/// Reads an answer's body, stopping (and dropping the connection) as soon as it passes `limit`
/// bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size_text(MAX_ANSWER_BYTES), "4 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
