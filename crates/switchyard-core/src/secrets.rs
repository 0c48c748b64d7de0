//! What is kept of a password: never the password itself.
//!
//! Every protocol but one presents the password (or its MD5) at login, so a salted digest of it
//! suffices to check them. MSNP2–7 instead answer a challenge with `md5(challenge + password)`,
//! which the server can only check if it knows the password or `md5(salt + password)` for a salt
//! it sends as the challenge. Switchyard keeps the latter: the account's salt *is* its MD5
//! challenge. The price (written down in the README): the challenge is the same at every login,
//! so a response seen on the wire can be replayed on MSNP2–7, and whoever reads the database can
//! log in with those dialects without learning the password.

use md5::{Digest, Md5};
use rand::distr::{Alphanumeric, SampleString};
use sha2::Sha256;

/// The stored secrets of one account.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// Random per account, changed with the password; also the MSNP2–7 challenge.
    pub salt: String,
    /// `md5hex(salt + password)`: the answer MSNP2–7 clients give to the challenge `salt`.
    pub md5_response: String,
    /// `sha256(salt + md5(password))`: checks a presented password or its MD5.
    pub verifier: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("salt", &self.salt).finish_non_exhaustive()
    }
}

impl Secrets {
    /// Secrets for a new password, with a fresh salt.
    pub fn new(password: &str) -> Secrets {
        Secrets::with_salt(password, Alphanumeric.sample_string(&mut rand::rng(), 20))
    }

    pub fn with_salt(password: &str, salt: String) -> Secrets {
        let md5_response = hex(&Md5::new().chain_update(&salt).chain_update(password).finalize());
        let verifier = verifier(&salt, &Md5::digest(password.as_bytes()).into());
        Secrets { salt, md5_response, verifier }
    }

    /// The challenge of an MSNP2–7 login.
    pub fn md5_challenge(&self) -> &str {
        &self.salt
    }

    /// Checks an MSNP2–7 answer to [`Secrets::md5_challenge`] (hex of either case).
    pub fn accepts_md5_response(&self, response: &str) -> bool {
        self.md5_response.eq_ignore_ascii_case(response)
    }

    pub fn accepts_password(&self, password: &str) -> bool {
        self.accepts_password_md5(&Md5::digest(password.as_bytes()).into())
    }

    /// Checks a password given as its MD5 (MRIM's `LOGIN3`).
    pub fn accepts_password_md5(&self, md5: &[u8; 16]) -> bool {
        verifier(&self.salt, md5) == self.verifier
    }
}

fn verifier(salt: &str, password_md5: &[u8; 16]) -> [u8; 32] {
    Sha256::new().chain_update(salt).chain_update(password_md5).finalize().into()
}

/// Lowercase hex, as MSNP writes digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_md5_answer_is_that_of_a_client_given_the_salt_as_challenge() {
        // md5("1013928519.693957190" + "password"), computed independently with coreutils md5sum.
        let secrets = Secrets::with_salt("password", "1013928519.693957190".into());
        assert_eq!(secrets.md5_challenge(), "1013928519.693957190");
        assert!(secrets.accepts_md5_response("7F919FAB309532DF353C901430DF36FA"));
        assert!(!secrets.accepts_md5_response("7f919fab309532df353c901430df36fb"));
    }

    #[test]
    fn passwords_and_their_md5_are_checked_without_being_kept() {
        let secrets = Secrets::new("hunter2");
        assert!(secrets.accepts_password("hunter2"));
        assert!(!secrets.accepts_password("Hunter2"));
        assert!(secrets.accepts_password_md5(&Md5::digest(b"hunter2").into()));
        assert!(!format!("{secrets:?}").contains("hunter2"));
        assert_ne!(Secrets::new("hunter2").salt, secrets.salt, "salts are per account");
    }
}
