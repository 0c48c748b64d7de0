//! Server → client bodies (never encrypted). Replies reuse the request's command number, so
//! decoding needs the command. The trailing `domain` strings of MyICQ 1.0 are always written
//! (empty: this server) because 1.0 clients read them.

use crate::codes::{cmd, login};
use crate::info::UserInfo;
use crate::wire::{Reader, Writer};

/// At most this many entries in one `SRV_MULTI_ONLINE`.
pub const MULTI_ONLINE_MAX: usize = 48;
/// At most this many results in one `SRV_SEARCH`.
pub const SEARCH_MAX: usize = 25;

/// A contact online, as `SRV_USER_ONLINE` and `SRV_MULTI_ONLINE` give it. The addresses are the
/// contact's own, for a direct connection: `ip` as the server sees it, `real_ip` as the contact
/// reported it, `port` its TCP message port. All in network order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnlineContact {
    pub uin: u32,
    pub status: u32,
    pub ip: u32,
    pub port: u16,
    pub real_ip: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub uin: u32,
    pub online: bool,
    pub face: u8,
    pub nick: String,
    pub province: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginReply {
    /// `ip` is the client's address as the server sees it.
    Success { ip: u32, online: u32 },
    /// `LOGIN_INVALID_UIN` or `LOGIN_WRONG_PASSWD`.
    Refused(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPacket {
    /// A pure acknowledgement (header only, `seq` 0).
    Ack,
    /// 0 when registration failed or is closed; `domain` is the server's (the account becomes
    /// `uin@domain` in gaim-myicq).
    NewUin {
        uin: u32,
        domain: String,
    },
    Login(LoginReply),
    ContactList {
        uins: Vec<u32>,
    },
    KeepAlive {
        online: u32,
    },
    UpdateContact {
        uin: u32,
        info: UserInfo,
    },
    UpdateUser {
        info: UserInfo,
        auth: u8,
    },
    AddFriend {
        uin: u32,
        result: u8,
    },
    UserOnline(OnlineContact),
    UserOffline {
        uin: u32,
    },
    MultiOnline(Vec<OnlineContact>),
    StatusChanged {
        uin: u32,
        status: u32,
    },
    /// `text` is raw: its 0xFF-separated fields depend on `kind`.
    Message {
        kind: u8,
        from: u32,
        /// Unix time it was sent.
        time: u32,
        text: Vec<u8>,
    },
    Search(Vec<SearchResult>),
    /// No other servers to federate with.
    ServerList,
    /// No chat-room groups of any type.
    GroupList,
    /// This server's domain and no contacts on other servers. gaim-myicq takes the domain as
    /// its own and renames its account `uin@domain`: it must be the server's name, not empty.
    RemoteContactList {
        domain: String,
    },
    /// 0: the group was not created.
    CreateGroup {
        id: u32,
    },
    EnterGroup {
        id: u32,
        error: u16,
    },
    Unknown {
        cmd: u16,
    },
}

fn read_online(r: &mut Reader) -> OnlineContact {
    OnlineContact { uin: r.u32(), status: r.u32(), ip: r.u32(), port: r.u16(), real_ip: r.u32() }
}

fn write_online(w: Writer, c: &OnlineContact) -> Writer {
    w.u32(c.uin).u32(c.status).u32(c.ip).u16(c.port).u32(c.real_ip)
}

/// Reads a count and then up to that many items, stopping where the body ends.
fn read_list<'a, T>(r: &mut Reader<'a>, count: usize, item: impl Fn(&mut Reader<'a>) -> T) -> Vec<T> {
    (0..count).map_while(|_| (!r.is_empty()).then(|| item(r))).collect()
}

impl ServerPacket {
    pub fn cmd(&self) -> u16 {
        match self {
            ServerPacket::Ack => cmd::ACK,
            ServerPacket::NewUin { .. } => cmd::NEW_UIN,
            ServerPacket::Login(_) => cmd::LOGIN,
            ServerPacket::ContactList { .. } => cmd::GET_CONTACTLIST,
            ServerPacket::KeepAlive { .. } => cmd::KEEPALIVE,
            ServerPacket::UpdateContact { .. } => cmd::UPDATE_CONTACT,
            ServerPacket::UpdateUser { .. } => cmd::UPDATE_USER,
            ServerPacket::AddFriend { .. } => cmd::ADD_FRIEND,
            ServerPacket::UserOnline(_) => cmd::SRV_USER_ONLINE,
            ServerPacket::UserOffline { .. } => cmd::SRV_USER_OFFLINE,
            ServerPacket::MultiOnline(_) => cmd::SRV_MULTI_ONLINE,
            ServerPacket::StatusChanged { .. } => cmd::SRV_STATUS_CHANGED,
            ServerPacket::Message { .. } => cmd::SRV_MESSAGE,
            ServerPacket::Search(_) => cmd::SRV_SEARCH,
            ServerPacket::ServerList => cmd::GET_SERVER_LIST,
            ServerPacket::GroupList => cmd::GET_GROUP_LIST,
            ServerPacket::RemoteContactList { .. } => cmd::GET_REMOTE_CONTACTLIST,
            ServerPacket::CreateGroup { .. } => cmd::CREATE_GROUP,
            ServerPacket::EnterGroup { .. } => cmd::ENTER_GROUP,
            ServerPacket::Unknown { cmd } => *cmd,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let w = Writer::default();
        let w = match self {
            ServerPacket::Ack | ServerPacket::Unknown { .. } => w,
            ServerPacket::NewUin { uin, domain } => w.u32(*uin).text(domain),
            ServerPacket::Login(LoginReply::Success { ip, online }) => w.u8(login::SUCCESS).u32(*ip).u32(*online),
            ServerPacket::Login(LoginReply::Refused(code)) => w.u8(*code),
            ServerPacket::ContactList { uins } => uins.iter().fold(w.u16(uins.len() as u16), |w, uin| w.u32(*uin)),
            ServerPacket::KeepAlive { online } => w.u32(*online),
            ServerPacket::UpdateContact { uin, info } => info.write(w.u32(*uin)),
            ServerPacket::UpdateUser { info, auth } => info.write(w).u8(*auth),
            ServerPacket::AddFriend { uin, result } => w.u32(*uin).u8(*result).text(""),
            ServerPacket::UserOnline(contact) => write_online(w, contact).text(""),
            ServerPacket::UserOffline { uin } => w.u32(*uin).text(""),
            ServerPacket::MultiOnline(contacts) => contacts.iter().fold(w.u16(contacts.len() as u16), write_online),
            ServerPacket::StatusChanged { uin, status } => w.u32(*uin).u32(*status).text(""),
            ServerPacket::Message { kind, from, time, text } => w.u8(*kind).u32(*from).u32(*time).bytes(text).text(""),
            ServerPacket::Search(results) => results.iter().fold(w.u16(results.len() as u16), |w, r| {
                w.u32(r.uin).u8(u8::from(r.online)).u8(r.face).text(&r.nick).text(&r.province)
            }),
            ServerPacket::ServerList | ServerPacket::GroupList => w.u16(0),
            ServerPacket::RemoteContactList { domain } => w.text(domain).u16(0),
            ServerPacket::CreateGroup { id } => w.u32(*id),
            ServerPacket::EnterGroup { id, error } => w.u32(*id).u16(*error),
        };
        w.body
    }

    /// Decodes the body of a server packet with command `command` (for clients).
    pub fn parse(command: u16, body: &[u8]) -> ServerPacket {
        let mut r = Reader::new(body);
        match command {
            cmd::ACK => ServerPacket::Ack,
            cmd::NEW_UIN => ServerPacket::NewUin { uin: r.u32(), domain: r.text() },
            cmd::LOGIN => ServerPacket::Login(match r.u8() {
                login::SUCCESS => LoginReply::Success { ip: r.u32(), online: r.u32() },
                code => LoginReply::Refused(code),
            }),
            cmd::GET_CONTACTLIST => {
                let count = usize::from(r.u16());
                ServerPacket::ContactList { uins: read_list(&mut r, count, Reader::u32) }
            }
            cmd::KEEPALIVE => ServerPacket::KeepAlive { online: r.u32() },
            cmd::UPDATE_CONTACT => ServerPacket::UpdateContact { uin: r.u32(), info: UserInfo::read(&mut r) },
            cmd::UPDATE_USER => ServerPacket::UpdateUser { info: UserInfo::read(&mut r), auth: r.u8() },
            cmd::ADD_FRIEND => ServerPacket::AddFriend { uin: r.u32(), result: r.u8() },
            cmd::SRV_USER_ONLINE => ServerPacket::UserOnline(read_online(&mut r)),
            cmd::SRV_USER_OFFLINE => ServerPacket::UserOffline { uin: r.u32() },
            cmd::SRV_MULTI_ONLINE => {
                let count = usize::from(r.u16());
                ServerPacket::MultiOnline(read_list(&mut r, count, read_online))
            }
            cmd::SRV_STATUS_CHANGED => ServerPacket::StatusChanged { uin: r.u32(), status: r.u32() },
            cmd::SRV_MESSAGE => {
                ServerPacket::Message { kind: r.u8(), from: r.u32(), time: r.u32(), text: r.bytes().to_vec() }
            }
            cmd::SRV_SEARCH => {
                let count = usize::from(r.u16());
                ServerPacket::Search(read_list(&mut r, count, |r| SearchResult {
                    uin: r.u32(),
                    online: r.u8() != 0,
                    face: r.u8(),
                    nick: r.text(),
                    province: r.text(),
                }))
            }
            cmd::GET_SERVER_LIST => ServerPacket::ServerList,
            cmd::GET_GROUP_LIST => ServerPacket::GroupList,
            cmd::GET_REMOTE_CONTACTLIST => ServerPacket::RemoteContactList { domain: r.text() },
            cmd::CREATE_GROUP => ServerPacket::CreateGroup { id: r.u32() },
            cmd::ENTER_GROUP => ServerPacket::EnterGroup { id: r.u32(), error: r.u16() },
            other => ServerPacket::Unknown { cmd: other },
        }
    }
}
