//! The protocol dialects MSNP2–MSNP12 and what each has, as data: sessions ask the table, they
//! do not compare version numbers themselves.

use crate::challenge::Scheme;
use crate::reply::UsrOkShape;
use std::fmt;

/// A dialect this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dialect(u8);

impl Dialect {
    pub const OLDEST: Dialect = Dialect(2);
    pub const NEWEST: Dialect = Dialect(12);

    /// `MSNP7` → dialect 7, when this server speaks it.
    pub fn parse(token: &str) -> Option<Dialect> {
        let prefix = token.get(..4).filter(|p| p.eq_ignore_ascii_case("MSNP"))?;
        let number: u8 = token[prefix.len()..].parse().ok()?;
        (Dialect::OLDEST.0..=Dialect::NEWEST.0).contains(&number).then_some(Dialect(number))
    }

    /// The highest dialect of those a client offers in `VER` that this server speaks.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Dialect> {
        Dialect::negotiate_up_to(offered, Dialect::NEWEST)
    }

    /// [`Dialect::negotiate`] among the dialects up to `newest`.
    pub fn negotiate_up_to<'a>(offered: impl IntoIterator<Item = &'a str>, newest: Dialect) -> Option<Dialect> {
        offered.into_iter().filter_map(Dialect::parse).filter(|d| *d <= newest).max()
    }

    pub fn number(self) -> u8 {
        self.0
    }

    /// `INF` (which security packages the server offers) exists up to MSNP7.
    pub fn has_inf(self) -> bool {
        self.0 <= 7
    }

    /// MD5 login (MSNP2–7); Passport (`TWN`) from MSNP8.
    pub fn login(self) -> LoginScheme {
        if self.0 <= 7 {
            LoginScheme::Md5
        } else {
            LoginScheme::Tweener
        }
    }

    /// `USR OK`: the friendly name up to MSNP9, the verified flag from MSNP6, the second flag
    /// from MSNP8.
    pub fn usr_ok(self) -> UsrOkShape {
        UsrOkShape { friendly: self.0 <= 9, verified: self.0 >= 6, kids_flag: self.0 >= 8 }
    }

    /// `XFR NS` names the current server too (`XFR trid NS address 0 current`) from MSNP8.
    pub fn xfr_ns_names_current(self) -> bool {
        self.0 >= 8
    }

    /// The server may challenge the client (`CHL`/`QRY`) from MSNP6, with the answer scheme of
    /// the dialect.
    pub fn challenge_scheme(self) -> Option<Scheme> {
        match self.0 {
            ..=5 => None,
            6..=10 => Some(Scheme::Md5),
            _ => Some(Scheme::Msnp11),
        }
    }

    /// The `text/x-msmsgsprofile` message after login, from MSNP5.
    pub fn has_profile_message(self) -> bool {
        self.0 >= 5
    }

    /// Contact groups (`LSG`, `ADG`, `RMG`, `REG`) from MSNP7.
    pub fn has_groups(self) -> bool {
        self.0 >= 7
    }

    /// How `SYN` and the list lines look.
    pub fn list_format(self) -> ListFormat {
        match self.0 {
            ..=7 => ListFormat::PerList,
            8..=9 => ListFormat::Bitmask,
            _ => ListFormat::Guids,
        }
    }

    /// `REA` renames up to MSNP9; `PRP MFN` and `SBP` from MSNP10.
    pub fn has_rea(self) -> bool {
        self.0 <= 9
    }

    /// Contacts are added with `ADD` up to MSNP9 and with `ADC` (by GUID for groups) from MSNP10.
    pub fn has_adc(self) -> bool {
        self.0 >= 10
    }

    /// Replies to list-changing commands carry the list version up to MSNP9 (`GTC trid ver A`);
    /// from MSNP10 they do not (`GTC trid A`).
    pub fn replies_carry_version(self) -> bool {
        self.0 <= 9
    }

    /// Replies to `ADG`, `RMG` and `REG` carry the list version up to MSNP11. The service dropped
    /// it from MSNP10 on and msn-pecan (MSNP12) reads `ADG trid name guid`, `RMG trid guid`,
    /// `REG trid guid name`; msnp11-sdk, the one MSNP11 client there is to test with, reads
    /// `ADG trid ver name guid`, `RMG trid ver guid`, `REG trid ver name guid`. Each dialect gets
    /// the form its known client reads.
    pub fn group_replies_carry_version(self) -> bool {
        self.0 <= 11
    }

    /// MSNP12 adds the network id (1 = MSN) to `LST` lines.
    pub fn lst_has_network(self) -> bool {
        self.0 >= 12
    }

    /// `GCF` (configuration files such as `Shields.xml`) from MSNP11.
    pub fn has_gcf(self) -> bool {
        self.0 >= 11
    }

    /// Personal messages (`UUX`/`UBX`) from MSNP11.
    pub fn has_personal_messages(self) -> bool {
        self.0 >= 11
    }

    /// `QNG` carries the seconds until the next ping from MSNP9.
    pub fn qng_has_interval(self) -> bool {
        self.0 >= 9
    }

    /// `CHG`/`NLN`/`ILN` carry client capabilities from MSNP8 and an MSN object from MSNP9.
    pub fn presence_extras(self) -> PresenceExtras {
        match self.0 {
            ..=7 => PresenceExtras::None,
            8 => PresenceExtras::Capabilities,
            _ => PresenceExtras::CapabilitiesAndObject,
        }
    }

    /// The pending list (PL, bit 16) of contacts who added the user, from MSNP10.
    pub fn has_pending_list(self) -> bool {
        self.0 >= 10
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MSNP{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginScheme {
    Md5,
    Tweener,
}

impl LoginScheme {
    /// The security package named in `USR` and `INF`.
    pub fn package(self) -> &'static str {
        match self {
            LoginScheme::Md5 => "MD5",
            LoginScheme::Tweener => "TWN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// MSNP2–7: `SYN trid ver`, then one `LST trid LIST ver i n handle name [groups]` per entry.
    PerList,
    /// MSNP8–9: `SYN trid ver contacts groups`, then `LST handle name bitmask [groups]`.
    Bitmask,
    /// MSNP10–12: `LST N=handle F=name C=guid bitmask [groups]`, groups by GUID.
    Guids,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceExtras {
    None,
    Capabilities,
    CapabilitiesAndObject,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_common_dialect_wins() {
        assert_eq!(Dialect::negotiate(["MSNP8", "MSNP7", "MSNP6", "CVR0"]), Dialect::parse("MSNP8"));
        assert_eq!(Dialect::negotiate(["MSNP15", "MSNP12", "MSNP11", "CVR0"]).map(Dialect::number), Some(12));
        assert_eq!(Dialect::negotiate(["MSNP2"]).map(Dialect::number), Some(2));
        assert_eq!(Dialect::negotiate(["MSNP1", "MSNP13", "CVR0", "MSNPx"]), None);
        assert_eq!(Dialect::parse("MSNP10").unwrap().to_string(), "MSNP10");
        assert_eq!(Dialect::parse("msnp9").map(Dialect::number), Some(9));
        let offered = ["MSNP8", "MSNP7", "MSNP2", "CVR0"];
        assert_eq!(Dialect::negotiate_up_to(offered, Dialect::parse("MSNP7").unwrap()).map(Dialect::number), Some(7));
        assert_eq!(Dialect::negotiate_up_to(["MSNP8"], Dialect::OLDEST), None);
    }

    #[test]
    fn what_each_dialect_has() {
        let d = |n: u8| Dialect::parse(&format!("MSNP{n}")).unwrap();
        assert!(d(7).has_inf() && !d(8).has_inf());
        assert_eq!((d(7).login(), d(8).login()), (LoginScheme::Md5, LoginScheme::Tweener));
        assert_eq!(
            [d(5), d(6), d(10), d(11)].map(Dialect::challenge_scheme),
            [None, Some(Scheme::Md5), Some(Scheme::Md5), Some(Scheme::Msnp11)]
        );
        assert_eq!(d(5).usr_ok(), UsrOkShape { friendly: true, verified: false, kids_flag: false });
        assert_eq!(d(8).usr_ok(), UsrOkShape { friendly: true, verified: true, kids_flag: true });
        assert_eq!(d(10).usr_ok(), UsrOkShape { friendly: false, verified: true, kids_flag: true });
        assert!(d(9).replies_carry_version() && !d(10).replies_carry_version());
        assert!(!d(9).has_adc() && d(10).has_adc());
        assert!(!d(6).has_groups() && d(7).has_groups());
        assert_eq!(
            [d(7), d(9), d(10)].map(Dialect::list_format),
            [ListFormat::PerList, ListFormat::Bitmask, ListFormat::Guids]
        );
        assert!(d(9).has_rea() && !d(10).has_rea());
        assert!(!d(10).has_personal_messages() && d(11).has_personal_messages());
    }
}
