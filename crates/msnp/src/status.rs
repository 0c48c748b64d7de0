//! The three-letter presence states of the notification server.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsnStatus {
    Online,
    Busy,
    Idle,
    BeRightBack,
    Away,
    OnThePhone,
    Lunch,
    Hidden,
    Offline,
}

const CODES: [(MsnStatus, &str); 9] = [
    (MsnStatus::Online, "NLN"),
    (MsnStatus::Busy, "BSY"),
    (MsnStatus::Idle, "IDL"),
    (MsnStatus::BeRightBack, "BRB"),
    (MsnStatus::Away, "AWY"),
    (MsnStatus::OnThePhone, "PHN"),
    (MsnStatus::Lunch, "LUN"),
    (MsnStatus::Hidden, "HDN"),
    (MsnStatus::Offline, "FLN"),
];

impl MsnStatus {
    pub fn code(self) -> &'static str {
        CODES.iter().find(|(s, _)| *s == self).map(|(_, c)| *c).expect("every status has a code")
    }

    pub fn from_code(code: &str) -> Option<MsnStatus> {
        CODES.iter().find(|(_, c)| *c == code).map(|(s, _)| *s)
    }
}

impl fmt::Display for MsnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (status, code) in CODES {
            assert_eq!(MsnStatus::from_code(code), Some(status));
            assert_eq!(status.code(), code);
        }
        assert_eq!(MsnStatus::from_code("nln"), None);
    }
}
