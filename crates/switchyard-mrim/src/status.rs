//! MRIM status values and the canonical statuses, both ways.

use mrim::codes::status as mrim;
use switchyard_core::Status;

/// What a `LOGIN2`/`CHANGE_STATUS` value means; `None` for values a client must not send.
pub(crate) fn to_core(value: u32) -> Option<Status> {
    if value & mrim::FLAG_INVISIBLE != 0 {
        return Some(Status::Invisible);
    }
    match value {
        mrim::ONLINE | mrim::USER_DEFINED => Some(Status::Online),
        mrim::AWAY => Some(Status::Away),
        _ => None,
    }
}

/// MRIM knows online and away: every "not quite here" state is away.
pub(crate) fn to_mrim(status: Status) -> u32 {
    match status {
        Status::Online => mrim::ONLINE,
        Status::Busy | Status::Idle | Status::BeRightBack | Status::Away | Status::OnThePhone | Status::Lunch => {
            mrim::AWAY
        }
        Status::Invisible => mrim::ONLINE | mrim::FLAG_INVISIBLE,
        Status::Offline => mrim::OFFLINE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(to_core(1), Some(Status::Online));
        assert_eq!(to_core(2), Some(Status::Away));
        assert_eq!(to_core(0x8000_0001), Some(Status::Invisible));
        assert_eq!(to_core(0), None);
        assert_eq!(to_core(3), None);
        assert_eq!(to_mrim(Status::Lunch), 2);
        assert_eq!(to_mrim(Status::Offline), 0);
        for status in [Status::Online, Status::Away, Status::Invisible] {
            assert_eq!(to_core(to_mrim(status)), Some(status));
        }
    }
}
