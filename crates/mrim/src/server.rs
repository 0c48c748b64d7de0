//! Packets a server sends, encoded for the connection's [`Dialect`].

use crate::client::StatusInfo;
use crate::codes::{message_flag, msg};
use crate::dialect::Dialect;
use crate::frame::Packet;
use crate::wire::{decode_text, Reader, Writer as Body};
use bytes::BytesMut;

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
    /// A packet this codec does not know (decoding only), its body kept.
    Unknown {
        msg: u32,
        body: Vec<u8>,
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
    pub fields: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Anketa columns whose values are user-written text (UTF-16LE from 1.16).
const UNICODE_ANKETA_FIELDS: [&str; 6] =
    ["Nickname", "FirstName", "LastName", "Location", "status_title", "status_desc"];

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
            ServerPacket::Unknown { msg, .. } => *msg,
        }
    }

    /// Appends the packet, header included, to `out`.
    pub fn encode(&self, dialect: Dialect, seq: u32, out: &mut BytesMut) {
        let mut body = Body::new(dialect);
        self.write_body(&mut body);
        body.finish(self.code(), seq, out);
    }

    /// Reads a packet the server sent (what clients and the load generator need).
    pub fn decode(packet: &Packet, dialect: Dialect) -> ServerPacket {
        let mut r = Reader::new(packet.body.clone());
        match packet.header.msg {
            msg::HELLO_ACK => {
                let ping_period = r.u32();
                ServerPacket::HelloAck { ping_period, server_time: r.u32() }
            }
            msg::LOGIN_ACK => ServerPacket::LoginAck,
            msg::OK => ServerPacket::Ok,
            msg::LOGIN_REJ => ServerPacket::LoginRej { reason: r.ansi() },
            msg::MESSAGE_ACK => {
                let msg_id = r.u32();
                let flags = r.u32();
                let from = r.ansi();
                let bytes = r.lps();
                let text = if flags & message_flag::UNICODE != 0 {
                    crate::text::from_utf16le(&bytes)
                } else if flags & message_flag::CP1251 != 0 {
                    crate::text::from_cp1251(&bytes)
                } else {
                    decode_text(&bytes, dialect)
                };
                ServerPacket::MessageAck(MessageAck { msg_id, flags, from, text, rtf: r.lps().to_vec() })
            }
            msg::MESSAGE_STATUS => ServerPacket::MessageStatus { status: r.u32() },
            msg::USER_STATUS => {
                let status = r.u32();
                if dialect.extended_status() {
                    let uri = r.ansi();
                    let title = r.text(dialect);
                    let description = r.text(dialect);
                    let email = r.ansi();
                    let features = r.u32();
                    let status = StatusInfo { status, uri, title, description, features };
                    ServerPacket::UserStatus { status, email, user_agent: r.ansi() }
                } else {
                    let status = StatusInfo { status, ..StatusInfo::default() };
                    ServerPacket::UserStatus { status, email: r.ansi(), user_agent: String::new() }
                }
            }
            msg::LOGOUT => ServerPacket::Logout { reason: r.u32() },
            msg::CONNECTION_PARAMS => ServerPacket::ConnectionParams { ping_period: r.u32() },
            msg::USER_INFO => {
                let (mut nickname, mut total, mut unread, mut endpoint) = (String::new(), 0, 0, String::new());
                while !r.is_empty() {
                    match r.ansi().as_str() {
                        "MRIM.NICKNAME" => nickname = r.text(dialect),
                        "MESSAGES.TOTAL" => total = r.ansi().parse().unwrap_or(0),
                        "MESSAGES.UNREAD" => unread = r.ansi().parse().unwrap_or(0),
                        "client.endpoint" => endpoint = r.ansi(),
                        _ => drop(r.lps()),
                    }
                }
                ServerPacket::UserInfo { nickname, total, unread, endpoint }
            }
            msg::ADD_CONTACT_ACK => {
                let status = r.u32();
                ServerPacket::AddContactAck { status, contact_id: r.u32() }
            }
            msg::MODIFY_CONTACT_ACK => ServerPacket::ModifyContactAck { status: r.u32() },
            msg::OFFLINE_MESSAGE_ACK => {
                let uidl = r.uidl();
                ServerPacket::OfflineMessageAck { uidl, message: r.lps().to_vec() }
            }
            msg::AUTHORIZE_ACK => ServerPacket::AuthorizeAck { user: r.ansi() },
            msg::MPOP_SESSION => {
                let status = r.u32();
                ServerPacket::MpopSession { status, key: r.ansi() }
            }
            msg::ANKETA_INFO => ServerPacket::AnketaInfo(read_anketa(&mut r, dialect)),
            msg::MAILBOX_STATUS => ServerPacket::MailboxStatus { unread: r.u32() },
            msg::CONTACT_LIST2 => ServerPacket::ContactList2(read_contact_list(&mut r, dialect)),
            msg::FAILURE => {
                let code = r.u32();
                let reason = r.ansi();
                ServerPacket::Failure { code, reason, method: r.u32() }
            }
            other => ServerPacket::Unknown { msg: other, body: packet.body.to_vec() },
        }
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
                        if UNICODE_ANKETA_FIELDS.contains(&field.as_str()) {
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
            ServerPacket::Unknown { body, .. } => b.out.extend_from_slice(body),
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

/// Search results: a bounded number of columns; rows until the body ends.
fn read_anketa(r: &mut Reader, dialect: Dialect) -> Anketa {
    const MAX_FIELDS: u32 = 64;
    let status = r.u32();
    let count = r.u32().min(MAX_FIELDS);
    let max_rows = r.u32();
    let server_time = r.u32();
    let fields: Vec<String> = (0..count).map(|_| r.ansi()).collect();
    let mut rows = Vec::new();
    while !r.is_empty() && !fields.is_empty() {
        let row = fields
            .iter()
            .map(|field| if UNICODE_ANKETA_FIELDS.contains(&field.as_str()) { r.text(dialect) } else { r.ansi() })
            .collect();
        rows.push(row);
    }
    Anketa { status, max_rows, server_time, fields, rows }
}

/// Groups and contacts by the masks the packet announces, whatever they are; fields past the
/// twelve this codec knows are skipped by their mask letter.
fn read_contact_list(r: &mut Reader, dialect: Dialect) -> ContactList {
    const MAX_GROUPS: u32 = 1024;
    let status = r.u32();
    let group_count = r.u32().min(MAX_GROUPS);
    let group_mask = r.ansi();
    let contact_mask = r.ansi();
    let skip = |r: &mut Reader, letter: u8| {
        if letter == b'u' {
            r.u32();
        } else {
            r.lps();
        }
    };
    let mut groups = Vec::new();
    for _ in 0..group_count {
        let mut group = Group { flags: 0, name: String::new() };
        for (i, letter) in group_mask.bytes().enumerate() {
            match i {
                0 => group.flags = r.u32(),
                1 => group.name = r.text(dialect),
                _ => skip(r, letter),
            }
        }
        groups.push(group);
    }
    let mut contacts = Vec::new();
    while !r.is_empty() && !contact_mask.is_empty() {
        let mut c = Contact::default();
        for (i, letter) in contact_mask.bytes().enumerate() {
            match i {
                0 => c.flags = r.u32(),
                1 => c.group = r.u32(),
                2 => c.email = r.ansi(),
                3 => c.nickname = r.text(dialect),
                4 => c.server_flags = r.u32(),
                5 => c.status.status = r.u32(),
                6 => c.phones = r.ansi(),
                7 => c.status.uri = r.ansi(),
                8 => c.status.title = r.text(dialect),
                9 => c.status.description = r.text(dialect),
                10 => c.status.features = r.u32(),
                11 => c.user_agent = r.ansi(),
                _ => skip(r, letter),
            }
        }
        contacts.push(c);
    }
    ContactList { status, groups, contacts }
}
