//! The protocol version a client announced, and every layout decision that follows from it.
//! Each decision is one method here, so the version thresholds live in one table-like place.

/// Protocol version of one connection: `major.minor` from the header's `proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dialect {
    pub major: u16,
    pub minor: u16,
}

/// `(first minor version, CONTACT_LIST2 contact mask)`, in ascending order.
const CONTACT_MASKS: [(u16, &str); 5] =
    [(0, "uussuu"), (8, "uussuus"), (15, "uussuussssus"), (20, "uussuussssusuuusss"), (21, "uussuussssusuuusssssu")];

impl Dialect {
    pub const V1_7: Dialect = Dialect { major: 1, minor: 7 };

    pub fn from_proto(proto: u32) -> Dialect {
        Dialect { major: (proto >> 16) as u16, minor: (proto & 0xFFFF) as u16 }
    }

    pub fn proto(self) -> u32 {
        (u32::from(self.major) << 16) | u32::from(self.minor)
    }

    /// Nicknames, status texts, group names and message text are UTF-16LE (else CP1251).
    pub fn unicode_text(self) -> bool {
        self.minor >= 16
    }

    /// `LOGIN2` and `USER_STATUS` carry status URI, title, description, features and user agent.
    pub fn extended_status(self) -> bool {
        self.minor >= 14
    }

    /// `LOGIN2` carries a language after the user agent.
    pub fn login_has_language(self) -> bool {
        self.minor >= 16
    }

    /// `HELLO_ACK` appends the server time.
    pub fn hello_ack_has_time(self) -> bool {
        self.minor >= 20
    }

    /// `LOGIN3` carries the raw 16-byte MD5 of the password instead of the password.
    pub fn login3_md5_password(self) -> bool {
        self.minor >= 22
    }

    /// The `CONTACT_LIST2` contact mask; the client reads and ignores fields it does not know.
    pub fn contact_mask(self) -> &'static str {
        CONTACT_MASKS.iter().rev().find(|(first, _)| self.minor >= *first).map(|(_, mask)| *mask).unwrap_or("uussuu")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u16) -> Dialect {
        Dialect { major: 1, minor }
    }

    #[test]
    fn thresholds() {
        assert_eq!(Dialect::from_proto(0x0001_0007), Dialect::V1_7);
        assert_eq!(Dialect::V1_7.proto(), 0x0001_0007);
        assert_eq!(v(7).contact_mask(), "uussuu");
        assert_eq!(v(8).contact_mask(), "uussuus");
        assert_eq!(v(14).contact_mask(), "uussuus");
        assert_eq!(v(15).contact_mask(), "uussuussssus");
        assert_eq!(v(20).contact_mask(), "uussuussssusuuusss");
        assert_eq!(v(22).contact_mask(), "uussuussssusuuusssssu");
        assert!(!v(15).unicode_text() && v(16).unicode_text());
        assert!(!v(13).extended_status() && v(14).extended_status());
        assert!(!v(19).hello_ack_has_time() && v(20).hello_ack_has_time());
        assert!(!v(21).login3_md5_password() && v(22).login3_md5_password());
    }
}
