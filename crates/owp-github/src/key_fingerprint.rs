//! The fingerprint GitHub shows beside each private key of an App (App settings → Private keys):
//! `SHA256:` and the base64 of the SHA-256 of the key's public half (DER `SubjectPublicKeyInfo`),
//! as `openssl rsa -in KEY.pem -pubout -outform DER | openssl sha256 -binary | openssl base64`
//! prints it. It names a key without showing it: `owp doctor` and the log say which key GitHub
//! takes by it.
//!
//! The public half is read from the private key (PKCS#1 `RSA PRIVATE KEY`, as GitHub hands keys
//! out, or PKCS#8 `PRIVATE KEY`): its modulus and exponent, wrapped as GitHub hashes them.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `rsaEncryption` with its NULL parameters: the algorithm of an RSA public key.
const RSA_ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;

/// The fingerprint of the RSA private key `pem` (one PEM block), or `None` when it is not one.
pub fn of_private_key(pem: &str) -> Option<String> {
    let pkcs8 = !pem.contains("-----BEGIN RSA PRIVATE KEY-----");
    let der = pem_body(pem)?;
    let (tag, mut key, _) = element(&der)?;
    if tag != SEQUENCE {
        return None;
    }
    if pkcs8 {
        // version, algorithm, then the PKCS#1 key in an OCTET STRING.
        let (_, _, rest) = element(key)?;
        let (_, _, rest) = element(rest)?;
        let (tag, inner, _) = element(rest)?;
        let (sequence, inner, _) = (tag == OCTET_STRING).then_some(inner).and_then(element)?;
        if sequence != SEQUENCE {
            return None;
        }
        key = inner;
    }
    // version, modulus, public exponent, …
    let (_, _, rest) = element(key)?;
    let (tag_n, modulus, rest) = element(rest)?;
    let (tag_e, exponent, _) = element(rest)?;
    if tag_n != INTEGER || tag_e != INTEGER {
        return None;
    }
    let mut integers = encode(INTEGER, modulus);
    integers.extend(encode(INTEGER, exponent));
    let mut bits = vec![0u8];
    bits.extend(encode(SEQUENCE, &integers));
    let mut info = RSA_ALGORITHM.to_vec();
    info.extend(encode(BIT_STRING, &bits));
    Some(of_public_key_der(&encode(SEQUENCE, &info)))
}

/// The fingerprint of a public key given as DER `SubjectPublicKeyInfo`.
pub fn of_public_key_der(der: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der))
    )
}

/// The bytes of one PEM block: the base64 between its BEGIN and END lines.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let text: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .filter(|l| !l.contains(':'))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// One DER element of `input`: its tag, its content and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |len, b| (len << 8) | usize::from(*b))
    };
    (rest.len() >= len).then(|| {
        let (content, after) = rest.split_at(len);
        (tag, content, after)
    })
}

/// A DER element of `tag` holding `content`.
fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or_default());
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or_default());
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../tests/fixtures/github/test-app-key.pem");
    const KEY_PKCS8: &str = include_str!("../../../tests/fixtures/github/test-app-key.pkcs8.pem");
    const PUBLIC: &str = include_str!("../../../tests/fixtures/github/test-app-key.pub.pem");
    const OTHER: &str = include_str!("../../../tests/fixtures/github/other-key.pem");
    const OTHER_PUBLIC: &str = include_str!("../../../tests/fixtures/github/other-key.pub.pem");

    #[test]
    fn the_fingerprint_is_githubs_of_the_public_half() {
        // What `openssl rsa -pubout -outform DER | openssl sha256 -binary | openssl base64` prints.
        assert_eq!(
            of_private_key(KEY).unwrap(),
            "SHA256:7nS91RkYphCAdu3X4CFHP4ftzYvTlY4iBZqHMIjy75k="
        );
        for (private, public) in [(KEY, PUBLIC), (KEY_PKCS8, PUBLIC), (OTHER, OTHER_PUBLIC)] {
            let der = pem_body(public).unwrap();
            assert_eq!(of_private_key(private), Some(of_public_key_der(&der)));
        }
        assert_ne!(of_private_key(KEY), of_private_key(OTHER));
    }

    #[test]
    fn what_is_no_rsa_private_key_has_none() {
        assert_eq!(of_private_key("not a key"), None);
        assert_eq!(
            of_private_key("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"),
            None
        );
        assert_eq!(of_private_key(PUBLIC), None);
    }
}
