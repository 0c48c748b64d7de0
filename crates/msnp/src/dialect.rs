//! The protocol dialects MSNP2–MSNP12 and what each has, as data: sessions ask the table, they
//! do not compare version numbers themselves.

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

    /// `USR OK` carries the verified flag from MSNP6.
    pub fn has_verified_flag(self) -> bool {
        self.0 >= 6
    }

    /// The server may challenge the client (`CHL`/`QRY`) from MSNP6.
    pub fn has_challenges(self) -> bool {
        self.0 >= 6
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
        assert!(!d(5).has_challenges() && d(6).has_challenges());
        assert!(!d(6).has_groups() && d(7).has_groups());
        assert_eq!(
            [d(7), d(9), d(10)].map(Dialect::list_format),
            [ListFormat::PerList, ListFormat::Bitmask, ListFormat::Guids]
        );
        assert!(d(9).has_rea() && !d(10).has_rea());
        assert!(!d(10).has_personal_messages() && d(11).has_personal_messages());
    }
}
