//! A secret value (a token, a key, a password) that never prints: its `Debug` hides it, and a
//! presented value is compared with it in constant time.

use std::fmt;

/// A secret value that never prints. Cloning it (the HTTP state, once per request) copies no text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret: the one comparison of a presented secret with a
    /// configured one (the admin token wherever it is accepted, the metrics token, the setup
    /// key). Constant time over digests, so neither the content nor the lengths leak; an empty
    /// secret never matches.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        if self.0.is_empty() {
            return false;
        }
        let expected = Sha256::digest(self.0.as_bytes());
        let sent = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&sent).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole_and_an_empty_one_never_matches() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("abcd"));
        assert!(!Secret::new("").matches(""));
    }

    #[test]
    fn secret_does_not_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
