//! Numeric constants of the protocol (see `protocols/mrim.md` for each one's source).

/// Packet codes (the header's `msg`).
pub mod msg {
    pub const HELLO: u32 = 0x1001;
    pub const HELLO_ACK: u32 = 0x1002;
    pub const LOGIN_ACK: u32 = 0x1004;
    pub const LOGIN_REJ: u32 = 0x1005;
    pub const PING: u32 = 0x1006;
    pub const MESSAGE: u32 = 0x1008;
    pub const MESSAGE_ACK: u32 = 0x1009;
    pub const USER_STATUS: u32 = 0x100F;
    pub const MESSAGE_RECV: u32 = 0x1011;
    pub const MESSAGE_STATUS: u32 = 0x1012;
    pub const LOGOUT: u32 = 0x1013;
    pub const CONNECTION_PARAMS: u32 = 0x1014;
    pub const USER_INFO: u32 = 0x1015;
    pub const ADD_CONTACT: u32 = 0x1019;
    pub const ADD_CONTACT_ACK: u32 = 0x101A;
    pub const MODIFY_CONTACT: u32 = 0x101B;
    pub const MODIFY_CONTACT_ACK: u32 = 0x101C;
    pub const OFFLINE_MESSAGE_ACK: u32 = 0x101D;
    pub const DELETE_OFFLINE_MESSAGE: u32 = 0x101E;
    pub const AUTHORIZE: u32 = 0x1020;
    pub const AUTHORIZE_ACK: u32 = 0x1021;
    pub const CHANGE_STATUS: u32 = 0x1022;
    pub const GET_MPOP_SESSION: u32 = 0x1024;
    pub const MPOP_SESSION: u32 = 0x1025;
    pub const ANKETA_INFO: u32 = 0x1028;
    pub const WP_REQUEST: u32 = 0x1029;
    pub const MAILBOX_STATUS: u32 = 0x1033;
    pub const CONTACT_LIST2: u32 = 0x1037;
    pub const LOGIN2: u32 = 0x1038;
    pub const LOGIN3: u32 = 0x1078;
    pub const STARTTLS: u32 = 0x1086;
    pub const OK: u32 = 0x1087;
    pub const FAILURE: u32 = 0x1088;
}

/// `MESSAGE` / `MESSAGE_ACK` flags.
pub mod message_flag {
    pub const OFFLINE: u32 = 0x0000_0001;
    pub const NORECV: u32 = 0x0000_0004;
    pub const AUTHORIZE: u32 = 0x0000_0008;
    pub const SYSTEM: u32 = 0x0000_0040;
    pub const RTF: u32 = 0x0000_0080;
    pub const CONTACT: u32 = 0x0000_0200;
    pub const NOTIFY: u32 = 0x0000_0400;
    pub const MULTICAST: u32 = 0x0000_1000;
    /// The text is UTF-16LE.
    pub const UNICODE: u32 = 0x0010_0000;
    /// The text is CP1251.
    pub const CP1251: u32 = 0x0020_0000;
    pub const MAX_MULTICAST_RECIPIENTS: usize = 50;
}

/// `MESSAGE_STATUS` values.
pub mod message_status {
    pub const DELIVERED: u32 = 0x0000;
    pub const REJECTED_NOUSER: u32 = 0x8001;
    pub const REJECTED_INTERR: u32 = 0x8003;
    pub const REJECTED_LIMIT_EXCEEDED: u32 = 0x8004;
    pub const REJECTED_TOO_LARGE: u32 = 0x8005;
    pub const REJECTED_DENY_OFFMSG: u32 = 0x8006;
    pub const REJECTED_PERMISSION: u32 = 0x8008;

    /// What a `MESSAGE_STATUS` tells a person.
    pub fn describe(status: u32) -> String {
        match status {
            DELIVERED => "delivered".into(),
            REJECTED_NOUSER => "no such user".into(),
            REJECTED_INTERR => "the server failed; try again later".into(),
            REJECTED_LIMIT_EXCEEDED => "the user's mailbox for offline messages is full".into(),
            REJECTED_TOO_LARGE => "the message is too long".into(),
            REJECTED_DENY_OFFMSG => "the user is offline and takes no offline messages".into(),
            REJECTED_PERMISSION => "the user does not accept messages from you".into(),
            other => format!("refused with status {other:#x}"),
        }
    }
}

/// Presence values of `USER_STATUS`, `CHANGE_STATUS` and `LOGIN2`.
pub mod status {
    pub const OFFLINE: u32 = 0;
    pub const ONLINE: u32 = 1;
    pub const AWAY: u32 = 2;
    pub const UNDETERMINATED: u32 = 3;
    pub const USER_DEFINED: u32 = 4;
    pub const FLAG_INVISIBLE: u32 = 0x8000_0000;
}

/// Contact flags of `ADD_CONTACT`, `MODIFY_CONTACT` and `CONTACT_LIST2`.
pub mod contact_flag {
    pub const REMOVED: u32 = 0x01;
    pub const GROUP: u32 = 0x02;
    pub const INVISIBLE: u32 = 0x04;
    pub const VISIBLE: u32 = 0x08;
    pub const IGNORE: u32 = 0x10;
    pub const SHADOW: u32 = 0x20;
    pub const AUTHORIZED: u32 = 0x40;
    pub const UNICODE_NAME: u32 = 0x200;
    /// `CONTACT_LIST2` server flag: the contact has not authorized the user yet.
    pub const NOT_AUTHORIZED: u32 = 0x0001;
    pub const MAX_GROUPS: usize = 20;
}

/// `CONTACT_LIST2` status and `ADD_CONTACT_ACK` / `MODIFY_CONTACT_ACK` results.
pub mod contact_oper {
    pub const SUCCESS: u32 = 0;
    pub const ERROR: u32 = 1;
    pub const INTERR: u32 = 2;
    pub const NO_SUCH_USER: u32 = 3;
    pub const INVALID_INFO: u32 = 4;
    pub const USER_EXISTS: u32 = 5;
    pub const GROUP_LIMIT: u32 = 6;
}

/// `LOGOUT` reasons.
pub mod logout {
    pub const NO_RELOGIN: u32 = 0x10;
}

/// `WP_REQUEST` fields and `ANKETA_INFO` statuses.
pub mod wp {
    pub const USER: u32 = 0;
    pub const DOMAIN: u32 = 1;
    pub const NICKNAME: u32 = 2;
    pub const FIRSTNAME: u32 = 3;
    pub const LASTNAME: u32 = 4;
    pub const SEX: u32 = 5;
    pub const BIRTHDAY: u32 = 6;
    pub const DATE1: u32 = 7;
    pub const DATE2: u32 = 8;
    pub const ONLINE: u32 = 9;
    pub const STATUS: u32 = 10;
    pub const CITY_ID: u32 = 11;
    pub const ZODIAC: u32 = 12;
    pub const BIRTHDAY_MONTH: u32 = 13;
    pub const BIRTHDAY_DAY: u32 = 14;
    pub const COUNTRY_ID: u32 = 15;
    pub const PARAMS_LIMIT: usize = 50;
    pub const VALUE_LENGTH_LIMIT: usize = 64;
    pub const ANKETA_NOUSER: u32 = 0;
    pub const ANKETA_OK: u32 = 1;
    pub const ANKETA_DBERR: u32 = 2;
    pub const ANKETA_RATELIMERR: u32 = 3;
}

/// `MRIM_CS_FAILURE` codes.
pub mod failure {
    pub const DECLINE: u32 = 1;
    pub const SERVICE_UNAVAILABLE: u32 = 5;
}
