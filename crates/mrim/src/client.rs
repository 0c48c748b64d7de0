//! Packets a client sends, decoded for the connection's [`Dialect`].

use crate::codes::{message_flag, msg, wp};
use crate::dialect::Dialect;
use crate::frame::Packet;
use crate::text::{from_cp1251, from_utf16le};
use crate::wire::{Reader, Writer};
use bytes::{Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPacket {
    Hello,
    Ping,
    /// `LOGIN2` (plain password, status given) or `LOGIN3` (no status: online).
    Login(Login),
    Message(Message),
    /// The recipient confirms a `MESSAGE_ACK`.
    MessageRecv {
        from: String,
        msg_id: u32,
    },
    AddContact(AddContact),
    ModifyContact(ModifyContact),
    DeleteOfflineMessage {
        uidl: [u8; 8],
    },
    /// The user lets `user` add them and see their status.
    Authorize {
        user: String,
    },
    ChangeStatus(StatusInfo),
    GetMpopSession,
    WpRequest {
        params: Vec<(u32, String)>,
    },
    StartTls,
    Unknown {
        msg: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Plain(String),
    /// `LOGIN3` from 1.22: the raw MD5 of the password.
    Md5([u8; 16]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub login: String,
    pub password: Password,
    pub status: StatusInfo,
    pub user_agent: String,
    pub language: String,
}

/// A status with the extended fields of 1.14+ (empty before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusInfo {
    pub status: u32,
    pub uri: String,
    pub title: String,
    pub description: String,
    pub features: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub flags: u32,
    /// One address, or with `MULTICAST` a list (commas per the document, or several LPS).
    pub to: Vec<String>,
    pub text: String,
    /// Base64 of zlib-packed RTF, carried through untouched.
    pub rtf: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddContact {
    pub flags: u32,
    pub group_id: u32,
    /// The contact's address, or empty for a group.
    pub email: String,
    /// The contact's nickname, or the group's name.
    pub name: String,
    pub phones: String,
    /// The authorization request text (1.15+).
    pub auth_text: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyContact {
    pub id: u32,
    pub flags: u32,
    pub group_id: u32,
    pub contact: String,
    pub name: String,
    pub phones: String,
}

/// Decodes a text field: UTF-16LE or CP1251 by dialect.
fn text(bytes: &[u8], dialect: Dialect) -> String {
    if dialect.unicode_text() {
        from_utf16le(bytes)
    } else {
        from_cp1251(bytes)
    }
}

fn ansi(bytes: &[u8]) -> String {
    from_cp1251(bytes)
}

impl ClientPacket {
    pub fn decode(packet: &Packet, dialect: Dialect) -> ClientPacket {
        let mut r = Reader::new(packet.body.clone());
        match packet.header.msg {
            msg::HELLO => ClientPacket::Hello,
            msg::PING => ClientPacket::Ping,
            msg::LOGIN2 => ClientPacket::Login(login2(&mut r, dialect)),
            msg::LOGIN3 => ClientPacket::Login(login3(&mut r, dialect)),
            msg::MESSAGE => ClientPacket::Message(message(&mut r, dialect)),
            msg::MESSAGE_RECV => ClientPacket::MessageRecv { from: ansi(&r.lps()), msg_id: r.u32() },
            msg::ADD_CONTACT => ClientPacket::AddContact(AddContact {
                flags: r.u32(),
                group_id: r.u32(),
                email: ansi(&r.lps()),
                name: text(&r.lps(), dialect),
                phones: ansi(&r.lps()),
                auth_text: r.lps(),
            }),
            msg::MODIFY_CONTACT => ClientPacket::ModifyContact(ModifyContact {
                id: r.u32(),
                flags: r.u32(),
                group_id: r.u32(),
                contact: ansi(&r.lps()),
                name: text(&r.lps(), dialect),
                phones: ansi(&r.lps()),
            }),
            msg::DELETE_OFFLINE_MESSAGE => ClientPacket::DeleteOfflineMessage { uidl: r.uidl() },
            msg::AUTHORIZE => ClientPacket::Authorize { user: ansi(&r.lps()) },
            msg::CHANGE_STATUS => ClientPacket::ChangeStatus(status_info(&mut r, dialect)),
            msg::GET_MPOP_SESSION => ClientPacket::GetMpopSession,
            msg::WP_REQUEST => ClientPacket::WpRequest { params: wp_params(&mut r, dialect) },
            msg::STARTTLS => ClientPacket::StartTls,
            other => ClientPacket::Unknown { msg: other },
        }
    }
}

impl ClientPacket {
    pub fn code(&self) -> u32 {
        match self {
            ClientPacket::Hello => msg::HELLO,
            ClientPacket::Ping => msg::PING,
            ClientPacket::Login(Login { password: Password::Md5(_), .. }) => msg::LOGIN3,
            ClientPacket::Login(_) => msg::LOGIN2,
            ClientPacket::Message(_) => msg::MESSAGE,
            ClientPacket::MessageRecv { .. } => msg::MESSAGE_RECV,
            ClientPacket::AddContact(_) => msg::ADD_CONTACT,
            ClientPacket::ModifyContact(_) => msg::MODIFY_CONTACT,
            ClientPacket::DeleteOfflineMessage { .. } => msg::DELETE_OFFLINE_MESSAGE,
            ClientPacket::Authorize { .. } => msg::AUTHORIZE,
            ClientPacket::ChangeStatus(_) => msg::CHANGE_STATUS,
            ClientPacket::GetMpopSession => msg::GET_MPOP_SESSION,
            ClientPacket::WpRequest { .. } => msg::WP_REQUEST,
            ClientPacket::StartTls => msg::STARTTLS,
            ClientPacket::Unknown { msg } => *msg,
        }
    }

    /// Appends the packet, header included, to `out` (what clients and the load generator send).
    /// A plain-password login is written as `LOGIN2`, an MD5 one as `LOGIN3`.
    pub fn encode(&self, dialect: Dialect, seq: u32, out: &mut BytesMut) {
        let mut b = Writer::new(dialect);
        self.write_body(&mut b);
        b.finish(self.code(), seq, out);
    }

    pub fn to_vec(&self, dialect: Dialect, seq: u32) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(dialect, seq, &mut out);
        out.to_vec()
    }

    fn write_body(&self, b: &mut Writer) {
        match self {
            ClientPacket::Hello
            | ClientPacket::Ping
            | ClientPacket::GetMpopSession
            | ClientPacket::StartTls
            | ClientPacket::Unknown { .. } => {}
            ClientPacket::Login(login) => match &login.password {
                Password::Plain(password) => {
                    b.ansi(&login.login);
                    b.ansi(password);
                    write_status_info(b, &login.status);
                    b.ansi(&login.user_agent);
                    if b.dialect.login_has_language() {
                        b.ansi(&login.language);
                    }
                }
                Password::Md5(md5) => {
                    b.ansi(&login.login);
                    b.raw(md5);
                    b.u32(login.status.features);
                    b.ansi(&login.user_agent);
                    b.ansi(&login.language);
                }
            },
            ClientPacket::Message(m) => {
                b.u32(m.flags);
                if m.flags & message_flag::MULTICAST != 0 {
                    b.ansi(&m.to.join(","));
                } else {
                    b.ansi(m.to.first().map(String::as_str).unwrap_or(""));
                }
                if m.flags & message_flag::UNICODE != 0 {
                    b.utf16(&m.text);
                } else if m.flags & message_flag::CP1251 != 0 {
                    b.ansi(&m.text);
                } else {
                    b.text(&m.text);
                }
                b.raw(&m.rtf);
            }
            ClientPacket::MessageRecv { from, msg_id } => {
                b.ansi(from);
                b.u32(*msg_id);
            }
            ClientPacket::AddContact(a) => {
                b.u32(a.flags);
                b.u32(a.group_id);
                b.ansi(&a.email);
                b.text(&a.name);
                b.ansi(&a.phones);
                b.raw(&a.auth_text);
            }
            ClientPacket::ModifyContact(m) => {
                b.u32(m.id);
                b.u32(m.flags);
                b.u32(m.group_id);
                b.ansi(&m.contact);
                b.text(&m.name);
                b.ansi(&m.phones);
            }
            ClientPacket::DeleteOfflineMessage { uidl } => b.out.extend_from_slice(uidl),
            ClientPacket::Authorize { user } => b.ansi(user),
            ClientPacket::ChangeStatus(status) => write_status_info(b, status),
            ClientPacket::WpRequest { params } => {
                for (field, value) in params {
                    b.u32(*field);
                    match *field {
                        wp::NICKNAME | wp::FIRSTNAME | wp::LASTNAME => b.text(value),
                        _ => b.ansi(value),
                    }
                }
            }
        }
    }
}

fn write_status_info(b: &mut Writer, status: &StatusInfo) {
    b.u32(status.status);
    if b.dialect.extended_status() {
        b.ansi(&status.uri);
        b.text(&status.title);
        b.text(&status.description);
        b.u32(status.features);
    }
}

/// `UL status` and, from 1.14, `LPS uri, LPS title, LPS desc, UL features`.
fn status_info(r: &mut Reader, dialect: Dialect) -> StatusInfo {
    let status = r.u32();
    if !dialect.extended_status() {
        return StatusInfo { status, ..StatusInfo::default() };
    }
    StatusInfo {
        status,
        uri: ansi(&r.lps()),
        title: text(&r.lps(), dialect),
        description: text(&r.lps(), dialect),
        features: r.u32(),
    }
}

fn login2(r: &mut Reader, dialect: Dialect) -> Login {
    let login = ansi(&r.lps());
    let password = Password::Plain(ansi(&r.lps()));
    let status = status_info(r, dialect);
    let user_agent = ansi(&r.lps());
    let language = if dialect.login_has_language() { ansi(&r.lps()) } else { String::new() };
    Login { login, password, status, user_agent, language }
}

fn login3(r: &mut Reader, dialect: Dialect) -> Login {
    let login = ansi(&r.lps());
    let secret = r.lps();
    let password = match <[u8; 16]>::try_from(&secret[..]) {
        Ok(md5) if dialect.login3_md5_password() => Password::Md5(md5),
        _ => Password::Plain(ansi(&secret)),
    };
    let features = r.u32();
    let user_agent = ansi(&r.lps());
    let language = ansi(&r.lps());
    let status = StatusInfo { status: crate::codes::status::ONLINE, features, ..StatusInfo::default() };
    Login { login, password, status, user_agent, language }
}

fn message(r: &mut Reader, dialect: Dialect) -> Message {
    let flags = r.u32();
    let to = r.lps();
    let text_bytes = r.lps();
    let rtf = r.lps();
    let text = if flags & message_flag::UNICODE != 0 {
        from_utf16le(&text_bytes)
    } else if flags & message_flag::CP1251 != 0 {
        from_cp1251(&text_bytes)
    } else {
        text(&text_bytes, dialect)
    };
    let to = if flags & message_flag::MULTICAST != 0 { recipients(&to) } else { vec![ansi(&to)] };
    Message { flags, to, text, rtf }
}

/// A multicast `to`: the document's comma-separated list, or (as some servers and clients
/// send it) consecutive LPS filling the field. Both are accepted; at most 50 recipients.
fn recipients(to: &[u8]) -> Vec<String> {
    let list = lps_sequence(to)
        .unwrap_or_else(|| ansi(to).split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect());
    list.into_iter().take(message_flag::MAX_MULTICAST_RECIPIENTS).collect()
}

/// The field read as LPS after LPS, if it is exactly that and every item is a printable address.
fn lps_sequence(mut bytes: &[u8]) -> Option<Vec<String>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let item = bytes.get(4..4 + len)?;
        if item.is_empty() || !item.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        items.push(ansi(item));
        bytes = &bytes[4 + len..];
    }
    (!items.is_empty()).then_some(items)
}

/// `(UL field, LPS value)*`, at most `wp::PARAMS_LIMIT` pairs, values cut at the length limit.
fn wp_params(r: &mut Reader, dialect: Dialect) -> Vec<(u32, String)> {
    let mut params = Vec::new();
    while !r.is_empty() && params.len() < wp::PARAMS_LIMIT {
        let field = r.u32();
        let raw = r.lps();
        let value = match field {
            wp::NICKNAME | wp::FIRSTNAME | wp::LASTNAME => text(&raw, dialect),
            _ => ansi(&raw),
        };
        params.push((field, value.chars().take(wp::VALUE_LENGTH_LIMIT).collect()));
    }
    params
}
