//! Command numbers and enumerations (see `protocols/myicq.md` §6–§7 for their sources).

/// Client → server commands; server replies reuse the request's number.
pub mod cmd {
    pub const ACK: u16 = 0x01;
    pub const NEW_UIN: u16 = 0x02;
    pub const GET_CONTACTLIST: u16 = 0x03;
    pub const LOGIN: u16 = 0x04;
    pub const LOGOUT: u16 = 0x05;
    pub const KEEPALIVE: u16 = 0x06;
    pub const CHANGE_STATUS: u16 = 0x07;
    pub const UPDATE_CONTACT: u16 = 0x08;
    pub const MODIFY_USER: u16 = 0x09;
    pub const UPDATE_USER: u16 = 0x0a;
    pub const SEND_MSG: u16 = 0x0b;
    pub const SEARCH_RANDOM: u16 = 0x0c;
    pub const SEARCH_CUSTOM: u16 = 0x0d;
    pub const ADD_FRIEND: u16 = 0x0e;
    pub const DEL_FRIEND: u16 = 0x0f;
    pub const BROADCAST_MSG: u16 = 0x10;
    pub const GET_SERVER_LIST: u16 = 0x11;
    pub const GET_GROUP_LIST: u16 = 0x12;
    pub const SEARCH_GROUP: u16 = 0x13;
    pub const GET_REMOTE_CONTACTLIST: u16 = 0x14;
    pub const CREATE_GROUP: u16 = 0x80;
    pub const ENTER_GROUP: u16 = 0x81;
    pub const EXIT_GROUP: u16 = 0x82;
    pub const GROUP_START: u16 = 0x83;
    pub const GROUP_MESSAGE: u16 = 0x84;
    pub const GROUP_CMD: u16 = 0x85;

    /// Server-only commands.
    pub const SRV_USER_ONLINE: u16 = 0x0100;
    pub const SRV_USER_OFFLINE: u16 = 0x0101;
    pub const SRV_MULTI_ONLINE: u16 = 0x0102;
    pub const SRV_STATUS_CHANGED: u16 = 0x0103;
    pub const SRV_MESSAGE: u16 = 0x0104;
    pub const SRV_SEARCH: u16 = 0x0105;

    /// Commands whose bodies travel in clear text (they carry the password the key is made of).
    pub fn is_plain(cmd: u16) -> bool {
        matches!(cmd, NEW_UIN | LOGIN)
    }
}

/// `STATUS_*`, a DWORD on the wire.
pub mod status {
    pub const ONLINE: u32 = 0;
    pub const OFFLINE: u32 = 1;
    pub const AWAY: u32 = 2;
    pub const INVISIBLE: u32 = 3;
}

/// `LOGIN_*` results (BYTE).
pub mod login {
    pub const SUCCESS: u8 = 0;
    pub const INVALID_UIN: u8 = 1;
    pub const WRONG_PASSWD: u8 = 2;

    /// What a refused login tells a person.
    pub fn describe(code: u8) -> String {
        match code {
            INVALID_UIN | WRONG_PASSWD => "wrong UIN or password".into(),
            other => format!("refused with code {other}"),
        }
    }
}

/// `ADD_FRIEND_*` results (BYTE), the same numbers as a user's `auth` setting.
pub mod add_friend {
    pub const ACCEPTED: u8 = 0;
    pub const AUTH_REQUIRED: u8 = 1;
    pub const REJECTED: u8 = 2;
}

/// `MSG_*` message types (BYTE).
pub mod msg {
    pub const TEXT: u8 = 0;
    pub const AUTO_REPLY: u8 = 1;
    pub const AUTH_ACCEPTED: u8 = 2;
    pub const AUTH_REQUEST: u8 = 3;
    pub const AUTH_REJECTED: u8 = 4;
    pub const ADDED: u8 = 5;
    pub const TCP_REQUEST: u8 = 6;
    pub const TCP_ACCEPTED: u8 = 7;
    pub const TCP_REJECTED: u8 = 8;
}
