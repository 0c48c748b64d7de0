//! The MD5 security package of MSNP2–MSNP7: the response is `md5hex(challenge + password)`.

use md5::{Digest, Md5};

pub fn md5_response(challenge: &str, password: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(challenge.as_bytes());
    hasher.update(password.as_bytes());
    to_hex(&hasher.finalize())
}

/// Checks a client's response; hex digits of either case are accepted.
pub fn verify_md5_response(challenge: &str, password: &str, response: &str) -> bool {
    md5_response(challenge, password).eq_ignore_ascii_case(response)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        // md5("1013928519.693957190" + "password"), computed independently with coreutils md5sum.
        assert_eq!(md5_response("1013928519.693957190", "password"), "7f919fab309532df353c901430df36fa");
    }

    #[test]
    fn verification_ignores_case_and_rejects_wrong_password() {
        let r = md5_response("123", "secret").to_uppercase();
        assert!(verify_md5_response("123", "secret", &r));
        assert!(!verify_md5_response("123", "Secret", &r));
    }
}
