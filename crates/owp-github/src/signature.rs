//! Verifying GitHub's webhook signature, `X-Hub-Signature-256`.
//!
//! GitHub signs the raw request body with HMAC-SHA256 keyed by the webhook secret and sends
//! `sha256=` followed by the lowercase hex digest. The check runs on the raw bytes, before anything
//! is parsed or stored. Several secrets may be configured at once (comma-separated in
//! `GITHUB_WEBHOOK_SECRET`) so that a secret can be rotated without dropping deliveries: a
//! signature made with any of them is accepted.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was not accepted. Every variant means "answer 401, change nothing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carried no `X-Hub-Signature-256` header.
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("the X-Hub-Signature-256 header is not `sha256=` followed by 64 hex digits")]
    Malformed,
    /// The header is well formed but matches none of the configured secrets.
    #[error("the signature does not match the webhook secret")]
    Mismatch,
}

/// The webhook secrets currently accepted. Never printed.
#[derive(Clone)]
pub struct WebhookSecrets {
    secrets: Vec<Vec<u8>>,
}

impl WebhookSecrets {
    /// Secrets from a comma-separated list, as found in `GITHUB_WEBHOOK_SECRET`. Whitespace around
    /// each secret is ignored, and so are empty entries. Returns `None` when no secret is left.
    pub fn parse(comma_separated: &str) -> Option<Self> {
        Self::new(comma_separated.split(','))
    }

    /// Secrets from a list; whitespace around each is ignored and empty ones are skipped. Returns
    /// `None` when no secret is left.
    pub fn new<I, S>(secrets: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().as_bytes().to_vec())
            .filter(|s| !s.is_empty())
            .collect();
        (!secrets.is_empty()).then_some(WebhookSecrets { secrets })
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Always false: a `WebhookSecrets` holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Checks `header` (the value of `X-Hub-Signature-256`, if any) against `body`.
    ///
    /// The digest comparison is constant-time; every configured secret is tried.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let expected = decode_header(header)?;
        let matched = self.secrets.iter().any(|secret| {
            let mut mac = new_mac(secret);
            mac.update(body);
            // `verify_slice` compares in constant time.
            mac.verify_slice(&expected).is_ok()
        });
        if matched {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// Checks that a signature header is present and well formed, before the body is read: a
    /// request that fails here is refused without reading its body.
    pub fn precheck(header: Option<&str>) -> Result<(), SignatureError> {
        decode_header(header.ok_or(SignatureError::Missing)?).map(|_| ())
    }

    /// The header value GitHub would send for `body`, made with the first (newest) secret.
    pub fn sign(&self, body: &[u8]) -> String {
        sign(&self.secrets[0], body)
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebhookSecrets({} secret(s), hidden)",
            self.secrets.len()
        )
    }
}

/// The `X-Hub-Signature-256` value for `body` signed with `secret`: `sha256=<lowercase hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of every length.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn decode_header(header: &str) -> Result<[u8; 32], SignatureError> {
    let digest = header
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(digest, &mut out).map_err(|_| SignatureError::Malformed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented test vector.
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secrets(s: &str) -> WebhookSecrets {
        WebhookSecrets::parse(s).expect("at least one secret")
    }

    #[test]
    fn sign_matches_githubs_documented_vector() {
        assert_eq!(
            sign(GITHUB_SECRET.as_bytes(), GITHUB_PAYLOAD),
            GITHUB_SIGNATURE
        );
    }

    #[test]
    fn accepts_githubs_documented_vector() {
        assert_eq!(
            secrets(GITHUB_SECRET).verify(Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn accepts_uppercase_hex_and_surrounding_whitespace() {
        let upper = format!("sha256={}", GITHUB_SIGNATURE[7..].to_uppercase());
        let s = secrets(GITHUB_SECRET);
        assert_eq!(s.verify(Some(&upper), GITHUB_PAYLOAD), Ok(()));
        let padded = format!(" {GITHUB_SIGNATURE} ");
        assert_eq!(s.verify(Some(&padded), GITHUB_PAYLOAD), Ok(()));
    }

    #[test]
    fn refuses_a_changed_body() {
        assert_eq!(
            secrets(GITHUB_SECRET).verify(Some(GITHUB_SIGNATURE), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_a_wrong_secret() {
        assert_eq!(
            secrets("not the secret").verify(Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_a_missing_header() {
        assert_eq!(
            secrets(GITHUB_SECRET).verify(None, GITHUB_PAYLOAD),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        let s = secrets(GITHUB_SECRET);
        let sha1 = "sha1=757107ea0eb2509fc211221cce984b8a37570b6d";
        let short = &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 2];
        let not_hex = "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let bare = &GITHUB_SIGNATURE[7..];
        for header in ["", "sha256=", sha1, short, not_hex, bare] {
            assert_eq!(
                s.verify(Some(header), GITHUB_PAYLOAD),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn accepts_any_of_several_secrets_during_rotation() {
        let old_and_new = secrets(&format!("new-secret, {GITHUB_SECRET}"));
        assert_eq!(old_and_new.len(), 2);
        assert_eq!(
            old_and_new.verify(Some(GITHUB_SIGNATURE), GITHUB_PAYLOAD),
            Ok(())
        );
        let by_new = sign(b"new-secret", GITHUB_PAYLOAD);
        assert_eq!(old_and_new.verify(Some(&by_new), GITHUB_PAYLOAD), Ok(()));
        let by_other = sign(b"retired", GITHUB_PAYLOAD);
        assert_eq!(
            old_and_new.verify(Some(&by_other), GITHUB_PAYLOAD),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signs_with_the_first_secret() {
        let s = secrets(&format!("{GITHUB_SECRET},older"));
        assert_eq!(s.sign(GITHUB_PAYLOAD), GITHUB_SIGNATURE);
    }

    #[test]
    fn empty_secret_lists_are_refused() {
        assert!(WebhookSecrets::parse("").is_none());
        assert!(WebhookSecrets::parse(" , ,").is_none());
        assert!(WebhookSecrets::new(Vec::<String>::new()).is_none());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let shown = format!("{:?}", secrets("hunter2,swordfish"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
        assert!(shown.contains("2 secret"), "{shown}");
    }
}
