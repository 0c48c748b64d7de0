//! The MSN states and the canonical statuses, one table each way.

use msnp::MsnStatus;
use switchyard_core::Status;

const TABLE: [(MsnStatus, Status); 9] = [
    (MsnStatus::Online, Status::Online),
    (MsnStatus::Busy, Status::Busy),
    (MsnStatus::Idle, Status::Idle),
    (MsnStatus::BeRightBack, Status::BeRightBack),
    (MsnStatus::Away, Status::Away),
    (MsnStatus::OnThePhone, Status::OnThePhone),
    (MsnStatus::Lunch, Status::Lunch),
    (MsnStatus::Hidden, Status::Invisible),
    (MsnStatus::Offline, Status::Offline),
];

pub(crate) fn to_core(status: MsnStatus) -> Status {
    TABLE.iter().find(|(m, _)| *m == status).map(|(_, s)| *s).expect("every MSN state is mapped")
}

pub(crate) fn to_msn(status: Status) -> MsnStatus {
    TABLE.iter().find(|(_, s)| *s == status).map(|(m, _)| *m).expect("every status is mapped")
}
