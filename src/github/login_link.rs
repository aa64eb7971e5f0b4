//! Linking a registered worker to a GitHub login, so that its owner can claim issues by comment
//! as that worker: `POST /v1/workers/link-code` (with the worker's token) returns a one-time code;
//! the owner comments `/owp link CODE` on any issue of an installed repository, which proves the
//! login (the route is `http::link_code`). Nobody can claim in someone else's name: a worker's
//! self-declared `github_login` is shown but never trusted for comment claims.

use rand::Rng;
use sha2::{Digest, Sha256};

/// How long a link code can be used.
pub const CODE_TTL_MS: i64 = 3_600_000;

/// Letters that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new code, `XXXX-XXXX`.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    code
}

/// How a code is stored: its SHA-256, ignoring letter case.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_right_and_parse_as_commands() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let parsed = crate::github::commands::parse_commands(&format!("/owp link {code}"));
        assert_eq!(
            parsed,
            vec![Ok(crate::github::commands::Command::Link {
                code: code.clone()
            })]
        );
        assert_eq!(code_hash(&code), code_hash(&code.to_lowercase()));
    }
}
