//! MyICQ's four states and the canonical presence.

use myicq::codes::status;
use switchyard_core::Status;

pub(crate) fn from_myicq(code: u32) -> Status {
    match code {
        status::AWAY => Status::Away,
        status::INVISIBLE => Status::Invisible,
        _ => Status::Online,
    }
}

/// MyICQ has one "away" for every kind of absence.
pub(crate) fn to_myicq(status: Status) -> u32 {
    match status {
        Status::Online => status::ONLINE,
        Status::Invisible => status::INVISIBLE,
        Status::Offline => status::OFFLINE,
        Status::Busy | Status::Idle | Status::BeRightBack | Status::Away | Status::OnThePhone | Status::Lunch => {
            status::AWAY
        }
    }
}
