//! The GUIDs MSNP10+ names contacts and groups by. They are derived from the stored ids, so
//! they are stable without being stored; the fourth block tells the two kinds apart.

use switchyard_core::{AccountId, GroupId};

const CONTACT: &str = "00000000-0000-0000-0001-";
const GROUP: &str = "00000000-0000-0000-0002-";

pub(crate) fn of_contact(id: AccountId) -> String {
    format!("{CONTACT}{:012x}", id.0)
}

pub(crate) fn of_group(id: GroupId) -> String {
    format!("{GROUP}{:012x}", id.0)
}

pub(crate) fn contact(guid: &str) -> Option<AccountId> {
    parse(guid, CONTACT).map(AccountId)
}

pub(crate) fn group(guid: &str) -> Option<GroupId> {
    parse(guid, GROUP).map(GroupId)
}

fn parse(guid: &str, prefix: &str) -> Option<i64> {
    let digits = guid.strip_prefix(prefix).filter(|d| d.len() == 12)?;
    i64::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_round_trip_and_do_not_mix_kinds() {
        let c = of_contact(AccountId(42));
        assert_eq!(c, "00000000-0000-0000-0001-00000000002a");
        assert_eq!(contact(&c), Some(AccountId(42)));
        assert_eq!(group(&c), None);
        assert_eq!(group(&of_group(GroupId(7))), Some(GroupId(7)));
        assert_eq!(contact("00000000-0000-0000-0001-2a"), None);
        assert_eq!(contact("not a guid"), None);
    }
}
