//! Client → server bodies, decoded (after decryption) and encoded (for clients and tests).
//! Decoding never fails: missing fields read as 0 or "", as the original server read them.

use crate::codes::cmd;
use crate::info::UserInfo;
use crate::wire::{Reader, Writer};

/// `UDP_LOGIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// Raw bytes: the first 8 are the session's DES key.
    pub password: Vec<u8>,
    pub status: u32,
    pub tcp_version: u16,
    /// The client's own idea of its IP address (behind NAT, a private one), network order.
    pub real_ip: u32,
    /// The TCP port it listens on for direct messages; 0 for none.
    pub msg_port: u16,
}

/// `UDP_MODIFY_USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyUser {
    pub info: UserInfo,
    pub auth: u8,
    /// Present when the password changes.
    pub new_password: Option<Vec<u8>>,
}

/// `UDP_SEARCH_CUSTOM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchCustom {
    Uin(u32),
    /// Exact nick and/or e-mail, UINs above `start_uin` (paging).
    Fields {
        nick: String,
        email: String,
        start_uin: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ack,
    NewUin {
        password: Vec<u8>,
    },
    GetContactList,
    Login(Login),
    Logout,
    KeepAlive {
        random: u32,
    },
    ChangeStatus {
        status: u32,
    },
    UpdateContact {
        uin: u32,
    },
    ModifyUser(Box<ModifyUser>),
    UpdateUser,
    /// `text` is raw: its 0xFF-separated fields depend on `kind` (see [`crate::msgtext`]).
    SendMessage {
        kind: u8,
        to: u32,
        text: Vec<u8>,
    },
    SearchRandom,
    SearchCustom(SearchCustom),
    AddFriend {
        uin: u32,
    },
    DelFriend {
        uin: u32,
    },
    Broadcast {
        kind: u8,
        text: Vec<u8>,
    },
    GetServerList,
    GetGroupList {
        group_type: u16,
    },
    SearchGroup {
        id: u32,
    },
    GetRemoteContactList,
    CreateGroup {
        group_type: u16,
        name: String,
    },
    EnterGroup {
        id: u32,
    },
    /// `EXIT_GROUP`, `GROUP_START`, `GROUP_MESSAGE`, `GROUP_CMD`: chat-room plug-in traffic.
    GroupTraffic {
        cmd: u16,
    },
    Unknown {
        cmd: u16,
    },
}

impl Request {
    /// Decodes the (decrypted) body of command `command`.
    pub fn parse(command: u16, body: &[u8]) -> Request {
        let mut r = Reader::new(body);
        match command {
            cmd::ACK => Request::Ack,
            cmd::NEW_UIN => Request::NewUin { password: r.bytes().to_vec() },
            cmd::GET_CONTACTLIST => Request::GetContactList,
            cmd::LOGIN => Request::Login(Login {
                password: r.bytes().to_vec(),
                status: r.u32(),
                tcp_version: r.u16(),
                real_ip: r.u32(),
                msg_port: r.u16(),
            }),
            cmd::LOGOUT => Request::Logout,
            cmd::KEEPALIVE => Request::KeepAlive { random: r.u32() },
            cmd::CHANGE_STATUS => Request::ChangeStatus { status: r.u32() },
            cmd::UPDATE_CONTACT => Request::UpdateContact { uin: r.u32() },
            cmd::MODIFY_USER => {
                let info = UserInfo::read(&mut r);
                let auth = r.u8();
                let new_password = (r.u8() == 1).then(|| r.bytes().to_vec());
                Request::ModifyUser(Box::new(ModifyUser { info, auth, new_password }))
            }
            cmd::UPDATE_USER => Request::UpdateUser,
            cmd::SEND_MSG => Request::SendMessage { kind: r.u8(), to: r.u32(), text: r.bytes().to_vec() },
            cmd::SEARCH_RANDOM => Request::SearchRandom,
            cmd::SEARCH_CUSTOM => Request::SearchCustom(match r.u32() {
                0 => SearchCustom::Fields { nick: r.text(), email: r.text(), start_uin: r.u32() },
                uin => SearchCustom::Uin(uin),
            }),
            cmd::ADD_FRIEND => Request::AddFriend { uin: r.u32() },
            cmd::DEL_FRIEND => Request::DelFriend { uin: r.u32() },
            cmd::BROADCAST_MSG => Request::Broadcast { kind: r.u8(), text: r.bytes().to_vec() },
            cmd::GET_SERVER_LIST => Request::GetServerList,
            cmd::GET_GROUP_LIST => Request::GetGroupList { group_type: r.u16() },
            cmd::SEARCH_GROUP => Request::SearchGroup { id: r.u32() },
            cmd::GET_REMOTE_CONTACTLIST => Request::GetRemoteContactList,
            cmd::CREATE_GROUP => Request::CreateGroup { group_type: r.u16(), name: r.text() },
            cmd::ENTER_GROUP => Request::EnterGroup { id: r.u32() },
            cmd::EXIT_GROUP | cmd::GROUP_START | cmd::GROUP_MESSAGE | cmd::GROUP_CMD => {
                Request::GroupTraffic { cmd: command }
            }
            other => Request::Unknown { cmd: other },
        }
    }

    pub fn cmd(&self) -> u16 {
        match self {
            Request::Ack => cmd::ACK,
            Request::NewUin { .. } => cmd::NEW_UIN,
            Request::GetContactList => cmd::GET_CONTACTLIST,
            Request::Login(_) => cmd::LOGIN,
            Request::Logout => cmd::LOGOUT,
            Request::KeepAlive { .. } => cmd::KEEPALIVE,
            Request::ChangeStatus { .. } => cmd::CHANGE_STATUS,
            Request::UpdateContact { .. } => cmd::UPDATE_CONTACT,
            Request::ModifyUser(_) => cmd::MODIFY_USER,
            Request::UpdateUser => cmd::UPDATE_USER,
            Request::SendMessage { .. } => cmd::SEND_MSG,
            Request::SearchRandom => cmd::SEARCH_RANDOM,
            Request::SearchCustom(_) => cmd::SEARCH_CUSTOM,
            Request::AddFriend { .. } => cmd::ADD_FRIEND,
            Request::DelFriend { .. } => cmd::DEL_FRIEND,
            Request::Broadcast { .. } => cmd::BROADCAST_MSG,
            Request::GetServerList => cmd::GET_SERVER_LIST,
            Request::GetGroupList { .. } => cmd::GET_GROUP_LIST,
            Request::SearchGroup { .. } => cmd::SEARCH_GROUP,
            Request::GetRemoteContactList => cmd::GET_REMOTE_CONTACTLIST,
            Request::CreateGroup { .. } => cmd::CREATE_GROUP,
            Request::EnterGroup { .. } => cmd::ENTER_GROUP,
            Request::GroupTraffic { cmd } | Request::Unknown { cmd } => *cmd,
        }
    }

    /// The plaintext body (before padding and encryption).
    pub fn encode(&self) -> Vec<u8> {
        let w = Writer::default();
        let w = match self {
            Request::Ack
            | Request::GetContactList
            | Request::Logout
            | Request::UpdateUser
            | Request::SearchRandom
            | Request::GetServerList
            | Request::GetRemoteContactList
            | Request::GroupTraffic { .. }
            | Request::Unknown { .. } => w,
            Request::NewUin { password } => w.bytes(password),
            Request::Login(l) => w.bytes(&l.password).u32(l.status).u16(l.tcp_version).u32(l.real_ip).u16(l.msg_port),
            Request::KeepAlive { random } => w.u32(*random),
            Request::ChangeStatus { status } => w.u32(*status),
            Request::UpdateContact { uin } | Request::AddFriend { uin } | Request::DelFriend { uin } => w.u32(*uin),
            Request::ModifyUser(m) => {
                let w = m.info.write(w).u8(m.auth);
                match &m.new_password {
                    Some(password) => w.u8(1).bytes(password),
                    None => w.u8(0),
                }
            }
            Request::SendMessage { kind, to, text } => w.u8(*kind).u32(*to).bytes(text),
            Request::SearchCustom(SearchCustom::Uin(uin)) => w.u32(*uin),
            Request::SearchCustom(SearchCustom::Fields { nick, email, start_uin }) => {
                w.u32(0).text(nick).text(email).u32(*start_uin)
            }
            Request::Broadcast { kind, text } => w.u8(*kind).bytes(text),
            Request::GetGroupList { group_type } => w.u16(*group_type),
            Request::SearchGroup { id } | Request::EnterGroup { id } => w.u32(*id),
            Request::CreateGroup { group_type, name } => w.u16(*group_type).text(name),
        };
        w.body
    }
}
