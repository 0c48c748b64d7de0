//! Packets a server sends, encoded for the connection's [`Dialect`].

use crate::client::StatusInfo;
use crate::codes::{message_flag, msg};
use crate::dialect::Dialect;
use crate::header::{Header, HEADER_LEN};
use crate::text::{to_cp1251, to_utf16le};
use crate::wire::{put_lps, put_u32};
use bytes::{BufMut, BytesMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPacket {
    HelloAck {
        ping_period: u32,
        server_time: u32,
    },
    LoginAck,
    LoginRej {
        reason: String,
    },
    MessageAck(MessageAck),
    /// Answers a `MESSAGE`, with its seq.
    MessageStatus {
        status: u32,
    },
    UserStatus {
        status: StatusInfo,
        email: String,
        user_agent: String,
    },
    Logout {
        reason: u32,
    },
    ConnectionParams {
        ping_period: u32,
    },
    UserInfo {
        nickname: String,
        total: u32,
        unread: u32,
        endpoint: String,
    },
    AddContactAck {
        status: u32,
        contact_id: u32,
    },
    ModifyContactAck {
        status: u32,
    },
    OfflineMessageAck {
        uidl: [u8; 8],
        message: Vec<u8>,
    },
    AuthorizeAck {
        user: String,
    },
    MpopSession {
        status: u32,
        key: String,
    },
    AnketaInfo(Anketa),
    MailboxStatus {
        unread: u32,
    },
    ContactList2(ContactList),
    /// `MRIM_CS_OK`: go ahead (STARTTLS).
    Ok,
    Failure {
        code: u32,
        reason: String,
        method: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAck {
    pub msg_id: u32,
    /// The encoding flag is set by the encoder to match the text it writes.
    pub flags: u32,
    pub from: String,
    pub text: String,
    pub rtf: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactList {
    pub status: u32,
    pub groups: Vec<Group>,
    pub contacts: Vec<Contact>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub flags: u32,
    pub name: String,
}

/// A contact with every field some mask version carries; each dialect writes its mask's share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub flags: u32,
    pub group: u32,
    pub email: String,
    pub nickname: String,
    pub server_flags: u32,
    pub status: StatusInfo,
    pub phones: String,
    pub user_agent: String,
}

/// Search results: field names, then one row of values per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anketa {
    pub status: u32,
    pub max_rows: u32,
    pub server_time: u32,
    pub fields: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Anketa columns whose values are user-written text (UTF-16LE from 1.16).
const UNICODE_ANKETA_FIELDS: [&str; 6] =
    ["Nickname", "FirstName", "LastName", "Location", "status_title", "status_desc"];

/// Writes fields in one dialect's encodings.
struct Body {
    out: Vec<u8>,
    dialect: Dialect,
}

impl Body {
    fn u32(&mut self, value: u32) {
        put_u32(&mut self.out, value);
    }

    fn ansi(&mut self, text: &str) {
        put_lps(&mut self.out, &to_cp1251(text));
    }

    /// A "UNICODE" field: UTF-16LE from 1.16, CP1251 before.
    fn text(&mut self, text: &str) {
        let bytes = if self.dialect.unicode_text() { to_utf16le(text) } else { to_cp1251(text) };
        put_lps(&mut self.out, &bytes);
    }

    fn raw(&mut self, bytes: &[u8]) {
        put_lps(&mut self.out, bytes);
    }
}

impl ServerPacket {
    pub fn code(&self) -> u32 {
        match self {
            ServerPacket::HelloAck { .. } => msg::HELLO_ACK,
            ServerPacket::LoginAck => msg::LOGIN_ACK,
            ServerPacket::LoginRej { .. } => msg::LOGIN_REJ,
            ServerPacket::MessageAck(_) => msg::MESSAGE_ACK,
            ServerPacket::MessageStatus { .. } => msg::MESSAGE_STATUS,
            ServerPacket::UserStatus { .. } => msg::USER_STATUS,
            ServerPacket::Logout { .. } => msg::LOGOUT,
            ServerPacket::ConnectionParams { .. } => msg::CONNECTION_PARAMS,
            ServerPacket::UserInfo { .. } => msg::USER_INFO,
            ServerPacket::AddContactAck { .. } => msg::ADD_CONTACT_ACK,
            ServerPacket::ModifyContactAck { .. } => msg::MODIFY_CONTACT_ACK,
            ServerPacket::OfflineMessageAck { .. } => msg::OFFLINE_MESSAGE_ACK,
            ServerPacket::AuthorizeAck { .. } => msg::AUTHORIZE_ACK,
            ServerPacket::MpopSession { .. } => msg::MPOP_SESSION,
            ServerPacket::AnketaInfo(_) => msg::ANKETA_INFO,
            ServerPacket::MailboxStatus { .. } => msg::MAILBOX_STATUS,
            ServerPacket::ContactList2(_) => msg::CONTACT_LIST2,
            ServerPacket::Ok => msg::OK,
            ServerPacket::Failure { .. } => msg::FAILURE,
        }
    }

    /// Appends the packet, header included, to `out`.
    pub fn encode(&self, dialect: Dialect, seq: u32, out: &mut BytesMut) {
        let mut body = Body { out: Vec::new(), dialect };
        self.write_body(&mut body);
        let header = Header { proto: dialect.proto(), seq, msg: self.code(), dlen: body.out.len() as u32 };
        out.reserve(HEADER_LEN + body.out.len());
        header.encode(out);
        out.put_slice(&body.out);
    }

    pub fn to_vec(&self, dialect: Dialect, seq: u32) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(dialect, seq, &mut out);
        out.to_vec()
    }

    fn write_body(&self, b: &mut Body) {
        match self {
            ServerPacket::HelloAck { ping_period, server_time } => {
                b.u32(*ping_period);
                if b.dialect.hello_ack_has_time() {
                    b.u32(*server_time);
                    b.u32(0);
                }
            }
            ServerPacket::LoginAck | ServerPacket::Ok => {}
            ServerPacket::LoginRej { reason } => b.ansi(reason),
            ServerPacket::MessageAck(ack) => {
                let unicode = b.dialect.unicode_text();
                let encoding = if unicode { message_flag::UNICODE } else { message_flag::CP1251 };
                let flags = ack.flags & !(message_flag::UNICODE | message_flag::CP1251);
                // 1.7 clients know neither encoding flag; they read CP1251 anyway.
                let flags = if b.dialect.minor >= 16 { flags | encoding } else { flags };
                b.u32(ack.msg_id);
                b.u32(flags);
                b.ansi(&ack.from);
                b.text(&ack.text);
                b.raw(&ack.rtf);
            }
            ServerPacket::MessageStatus { status } => b.u32(*status),
            ServerPacket::UserStatus { status, email, user_agent } => {
                b.u32(status.status);
                if b.dialect.extended_status() {
                    b.ansi(&status.uri);
                    b.text(&status.title);
                    b.text(&status.description);
                    b.ansi(email);
                    b.u32(status.features);
                    b.ansi(user_agent);
                } else {
                    b.ansi(email);
                }
            }
            ServerPacket::Logout { reason } => b.u32(*reason),
            ServerPacket::ConnectionParams { ping_period } => b.u32(*ping_period),
            ServerPacket::UserInfo { nickname, total, unread, endpoint } => {
                b.ansi("MRIM.NICKNAME");
                b.text(nickname);
                b.ansi("MESSAGES.TOTAL");
                b.ansi(&total.to_string());
                b.ansi("MESSAGES.UNREAD");
                b.ansi(&unread.to_string());
                b.ansi("client.endpoint");
                b.ansi(endpoint);
            }
            ServerPacket::AddContactAck { status, contact_id } => {
                b.u32(*status);
                b.u32(*contact_id);
            }
            ServerPacket::ModifyContactAck { status } => b.u32(*status),
            ServerPacket::OfflineMessageAck { uidl, message } => {
                b.out.extend_from_slice(uidl);
                b.raw(message);
            }
            ServerPacket::AuthorizeAck { user } => b.ansi(user),
            ServerPacket::MpopSession { status, key } => {
                b.u32(*status);
                b.ansi(key);
            }
            ServerPacket::AnketaInfo(anketa) => {
                b.u32(anketa.status);
                b.u32(anketa.fields.len() as u32);
                b.u32(anketa.max_rows);
                b.u32(anketa.server_time);
                for field in &anketa.fields {
                    b.ansi(field);
                }
                for row in &anketa.rows {
                    for (field, value) in anketa.fields.iter().zip(row) {
                        if UNICODE_ANKETA_FIELDS.contains(field) {
                            b.text(value);
                        } else {
                            b.ansi(value);
                        }
                    }
                }
            }
            ServerPacket::MailboxStatus { unread } => b.u32(*unread),
            ServerPacket::ContactList2(list) => write_contact_list(b, list),
            ServerPacket::Failure { code, reason, method } => {
                b.u32(*code);
                b.ansi(reason);
                b.u32(*method);
            }
        }
    }
}

fn write_contact_list(b: &mut Body, list: &ContactList) {
    let mask = b.dialect.contact_mask();
    b.u32(list.status);
    b.u32(list.groups.len() as u32);
    b.ansi("us");
    b.ansi(mask);
    for group in &list.groups {
        b.u32(group.flags);
        b.text(&group.name);
    }
    for contact in &list.contacts {
        // The fields in mask order; positions past these are written empty (`s`) or zero (`u`).
        let known: [&dyn Fn(&mut Body); 12] = [
            &|b| b.u32(contact.flags),
            &|b| b.u32(contact.group),
            &|b| b.ansi(&contact.email),
            &|b| b.text(&contact.nickname),
            &|b| b.u32(contact.server_flags),
            &|b| b.u32(contact.status.status),
            &|b| b.ansi(&contact.phones),
            &|b| b.ansi(&contact.status.uri),
            &|b| b.text(&contact.status.title),
            &|b| b.text(&contact.status.description),
            &|b| b.u32(contact.status.features),
            &|b| b.ansi(&contact.user_agent),
        ];
        for (i, letter) in mask.bytes().enumerate() {
            match known.get(i) {
                Some(write) => write(b),
                None if letter == b'u' => b.u32(0),
                None => b.raw(&[]),
            }
        }
    }
}
