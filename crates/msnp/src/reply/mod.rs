//! Typed messages the server sends: encoded straight into an output buffer by the server
//! ([`Reply`], borrowing its text), and parsed from frames by a client ([`OwnedReply`]).
//! Friendly names are given as Unicode and URL-encoded here.

mod parse;

pub use parse::{BadReply, SWITCHBOARD_USR_OK};

use crate::command::{List, PrivacyMode, PromptMode, Trid};
use crate::error_code::ErrorCode;
use crate::status::MsnStatus;
use crate::text::url_encode;
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt::{Display, Write};

/// Which parts `USR OK` carries: the friendly name (up to MSNP9), the verified flag (MSNP6+)
/// and a second flag, always 0 here, from MSNP8 (the "kids' Passport" bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsrOkShape {
    pub friendly: bool,
    pub verified: bool,
    pub kids_flag: bool,
}

/// Where a group-related line names its group: by number (MSNP7–9) or by GUID (MSNP10+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRef<S> {
    Number(u64),
    Guid(S),
}

/// A message the server sends, borrowing its text: what the server writes.
pub type Reply<'a> = ServerMessage<&'a str, &'a [u8]>;
/// A message the server sent, read by a client.
pub type OwnedReply = ServerMessage<String, Bytes>;

/// A message from the server, its text of type `S` and payloads of type `B`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage<S, B> {
    /// `VER trid dialect`, or `VER trid 0` when no offered dialect is spoken.
    Ver {
        trid: Trid,
        dialect: Option<S>,
    },
    /// `CVR trid recommended recommended minimum download-url info-url`.
    Cvr {
        trid: Trid,
        recommended: S,
        minimum: S,
        download_url: S,
        info_url: S,
    },
    Inf {
        trid: Trid,
        packages: S,
    },
    /// `USR trid MD5 S challenge` or `USR trid TWN S policy`.
    UsrChallenge {
        trid: Trid,
        package: S,
        challenge: S,
    },
    UsrOk {
        trid: Trid,
        handle: S,
        friendly: S,
        shape: UsrOkShape,
    },
    /// `XFR trid NS address [0 current]`: log in at another notification server; MSNP8+ also
    /// name the server the client is on.
    XfrNs {
        trid: Trid,
        address: S,
        current: Option<S>,
    },
    /// `XFR trid SB address CKI cookie`.
    XfrSb {
        trid: Trid,
        address: S,
        cookie: S,
    },
    /// MSNP2–7: `SYN trid version`.
    Syn {
        trid: Trid,
        version: u32,
    },
    /// MSNP8+: `SYN trid version [settings-version] contacts groups`.
    SynCounts {
        trid: Trid,
        version: u32,
        settings_version: Option<u32>,
        contacts: usize,
        groups: usize,
    },
    /// `GTC [trid] [version] A|N`: inside a MSNP8+ `SYN` neither; MSNP10+ replies have no version.
    Gtc {
        trid: Option<Trid>,
        version: Option<u32>,
        mode: PromptMode,
    },
    /// `BLP [trid] [version] AL|BL`, shaped like [`Reply::Gtc`].
    Blp {
        trid: Option<Trid>,
        version: Option<u32>,
        mode: PrivacyMode,
    },
    /// One entry of a list (MSNP2–7): `LST trid LIST ver i n handle friendly [groups]`.
    Lst {
        trid: Trid,
        list: List,
        version: u32,
        index: usize,
        total: usize,
        handle: S,
        friendly: S,
        groups: Option<S>,
    },
    /// An empty list: `LST trid LIST ver 0 0`.
    LstEmpty {
        trid: Trid,
        list: List,
        version: u32,
    },
    /// MSNP8–9: `LST handle friendly lists [groups]`.
    LstBitmask {
        handle: S,
        friendly: S,
        lists: u8,
        groups: Option<S>,
    },
    /// MSNP10+: `LST N=handle F=friendly [C=guid] lists [network] [groups]` (the network id, 1
    /// for MSN, from MSNP12).
    LstGuid {
        handle: S,
        friendly: S,
        guid: Option<S>,
        lists: u8,
        network: Option<u8>,
        groups: Option<S>,
    },
    /// MSNP7: `LSG trid ver i n id name 0`.
    LsgIndexed {
        trid: Trid,
        version: u32,
        index: usize,
        total: usize,
        id: u64,
        name: S,
    },
    /// MSNP8–9 `LSG id name 0`; MSNP10+ `LSG name guid`.
    Lsg {
        group: GroupRef<S>,
        name: S,
    },
    /// MSNP7–9 `ADG trid ver name id 0`; by GUID `ADG trid [ver] name guid`
    /// (see [`Dialect::group_replies_carry_version`](crate::Dialect::group_replies_carry_version)).
    Adg {
        trid: Trid,
        version: Option<u32>,
        name: S,
        group: GroupRef<S>,
    },
    /// `RMG trid [ver] group`.
    Rmg {
        trid: Trid,
        version: Option<u32>,
        group: GroupRef<S>,
    },
    /// MSNP7–9 `REG trid ver id name 0`; by GUID `REG trid ver name guid` with a version,
    /// `REG trid guid name` without one.
    Reg {
        trid: Trid,
        version: Option<u32>,
        name: S,
        group: GroupRef<S>,
    },
    /// `ADD trid LIST ver handle friendly [group]`.
    Add {
        trid: Trid,
        list: List,
        version: u32,
        handle: S,
        friendly: S,
        group: Option<u64>,
    },
    /// MSNP10+: `ADC trid LIST [N=handle] [F=friendly] [C=guid] [group]`.
    Adc {
        trid: Trid,
        list: List,
        handle: Option<S>,
        friendly: Option<S>,
        guid: Option<S>,
        group: Option<S>,
    },
    /// `REM trid LIST [ver] contact [group]`: MSNP10+ has no version, and names FL entries by GUID.
    Rem {
        trid: Trid,
        list: List,
        version: Option<u32>,
        contact: S,
        group: Option<S>,
    },
    /// `REA trid ver handle friendly` (MSNP2–9).
    Rea {
        trid: Trid,
        version: u32,
        handle: S,
        friendly: S,
    },
    /// `PRP [trid] [ver] property [value]`: in `SYN` without trid; MSNP10+ without version; an
    /// empty value (a cleared property) is left out.
    Prp {
        trid: Option<Trid>,
        version: Option<u32>,
        property: S,
        value: S,
    },
    /// `SBP trid guid property value` (MSNP10+).
    Sbp {
        trid: Trid,
        guid: S,
        property: S,
        value: S,
    },
    /// `CHG trid status [capabilities [msn-object]]`.
    Chg {
        trid: Trid,
        status: MsnStatus,
        extras: PresenceExtras<S>,
    },
    Iln {
        trid: Trid,
        status: MsnStatus,
        handle: S,
        friendly: S,
        extras: PresenceExtras<S>,
    },
    Nln {
        status: MsnStatus,
        handle: S,
        friendly: S,
        extras: PresenceExtras<S>,
    },
    Fln {
        handle: S,
    },
    /// `UBX handle len` with the contact's personal message XML (MSNP11+).
    Ubx {
        handle: S,
        payload: B,
    },
    /// `UUX trid 0`: the personal message was taken.
    Uux {
        trid: Trid,
    },
    /// `QNG [seconds-until-next-ping]`.
    Qng {
        interval: Option<u32>,
    },
    /// `CHL 0 challenge`.
    Chl {
        challenge: S,
    },
    /// `QRY trid`: the challenge was answered right.
    Qry {
        trid: Trid,
    },
    /// `URL trid rru url id`.
    Url {
        trid: Trid,
        rru: S,
        url: S,
        id: u32,
    },
    /// `GCF trid file len` with the file.
    Gcf {
        trid: Trid,
        file: S,
        payload: B,
    },
    Rng {
        session: u64,
        address: S,
        cookie: S,
        caller: S,
        friendly: S,
    },
    /// `OUT` with an optional reason (`OTH`, `SSD`).
    Out {
        reason: Option<S>,
    },
    Error {
        code: ErrorCode,
        trid: Option<Trid>,
    },
    Cal {
        trid: Trid,
        session: u64,
    },
    Iro {
        trid: Trid,
        index: usize,
        total: usize,
        handle: S,
        friendly: S,
    },
    AnsOk {
        trid: Trid,
    },
    Joi {
        handle: S,
        friendly: S,
    },
    Bye {
        handle: S,
    },
    Msg {
        handle: S,
        friendly: S,
        body: B,
    },
    Ack {
        trid: Trid,
    },
    Nak {
        trid: Trid,
    },
}

/// What `CHG`, `ILN` and `NLN` add after the status: client capabilities from MSNP8 and the
/// URL-encoded MSN object (display picture) from MSNP9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceExtras<S> {
    pub capabilities: Option<u32>,
    pub object: Option<S>,
}

impl<S> Default for PresenceExtras<S> {
    fn default() -> Self {
        PresenceExtras { capabilities: None, object: None }
    }
}

impl<S: AsRef<str> + Display, B: AsRef<[u8]>> ServerMessage<S, B> {
    pub fn encode(&self, out: &mut BytesMut) {
        let mut line = LineWriter(out);
        // Writing into a BytesMut cannot fail.
        let _ = self.write_to(&mut line);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.to_vec()
    }

    fn write_to(&self, w: &mut LineWriter<'_>) -> std::fmt::Result {
        match self {
            ServerMessage::Ver { trid, dialect } => {
                write!(w, "VER {trid} {}\r\n", dialect.as_ref().map_or("0", AsRef::as_ref))
            }
            ServerMessage::Cvr { trid, recommended, minimum, download_url, info_url } => {
                write!(w, "CVR {trid} {recommended} {recommended} {minimum} {download_url} {info_url}\r\n")
            }
            ServerMessage::Inf { trid, packages } => write!(w, "INF {trid} {packages}\r\n"),
            ServerMessage::UsrChallenge { trid, package, challenge } => {
                write!(w, "USR {trid} {package} S {challenge}\r\n")
            }
            ServerMessage::UsrOk { trid, handle, friendly, shape } => {
                write!(w, "USR {trid} OK {handle}")?;
                if shape.friendly {
                    write!(w, " {}", url_encode(friendly.as_ref()))?;
                }
                if shape.verified {
                    w.write_str(" 1")?;
                }
                if shape.kids_flag {
                    w.write_str(" 0")?;
                }
                w.write_str("\r\n")
            }
            ServerMessage::XfrNs { trid, address, current: None } => write!(w, "XFR {trid} NS {address}\r\n"),
            ServerMessage::XfrNs { trid, address, current: Some(current) } => {
                write!(w, "XFR {trid} NS {address} 0 {current}\r\n")
            }
            ServerMessage::XfrSb { trid, address, cookie } => write!(w, "XFR {trid} SB {address} CKI {cookie}\r\n"),
            ServerMessage::Syn { trid, version } => write!(w, "SYN {trid} {version}\r\n"),
            ServerMessage::SynCounts { trid, version, settings_version, contacts, groups } => {
                write!(w, "SYN {trid} {version}")?;
                w.optional(settings_version.as_ref())?;
                write!(w, " {contacts} {groups}\r\n")
            }
            ServerMessage::Gtc { trid, version, mode } => {
                w.write_str("GTC")?;
                w.optional(trid.as_ref())?;
                w.optional(version.as_ref())?;
                write!(w, " {}\r\n", mode.code())
            }
            ServerMessage::Blp { trid, version, mode } => {
                w.write_str("BLP")?;
                w.optional(trid.as_ref())?;
                w.optional(version.as_ref())?;
                write!(w, " {}\r\n", mode.code())
            }
            ServerMessage::Lst { trid, list, version, index, total, handle, friendly, groups } => {
                write!(
                    w,
                    "LST {trid} {} {version} {index} {total} {handle} {}",
                    list.code(),
                    url_encode(friendly.as_ref())
                )?;
                w.optional(groups.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::LstEmpty { trid, list, version } => {
                write!(w, "LST {trid} {} {version} 0 0\r\n", list.code())
            }
            ServerMessage::LstBitmask { handle, friendly, lists, groups } => {
                write!(w, "LST {handle} {} {lists}", url_encode(friendly.as_ref()))?;
                w.optional(groups.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::LstGuid { handle, friendly, guid, lists, network, groups } => {
                write!(w, "LST N={handle} F={}", url_encode(friendly.as_ref()))?;
                if let Some(guid) = guid {
                    write!(w, " C={guid}")?;
                }
                write!(w, " {lists}")?;
                w.optional(network.as_ref())?;
                w.optional(groups.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::LsgIndexed { trid, version, index, total, id, name } => {
                write!(w, "LSG {trid} {version} {index} {total} {id} {} 0\r\n", url_encode(name.as_ref()))
            }
            ServerMessage::Lsg { group: GroupRef::Number(id), name } => {
                write!(w, "LSG {id} {} 0\r\n", url_encode(name.as_ref()))
            }
            ServerMessage::Lsg { group: GroupRef::Guid(guid), name } => {
                write!(w, "LSG {} {guid}\r\n", url_encode(name.as_ref()))
            }
            ServerMessage::Adg { trid, version, name, group } => {
                write!(w, "ADG {trid}")?;
                w.optional(version.as_ref())?;
                match group {
                    GroupRef::Number(id) => write!(w, " {} {id} 0\r\n", url_encode(name.as_ref())),
                    GroupRef::Guid(guid) => write!(w, " {} {guid}\r\n", url_encode(name.as_ref())),
                }
            }
            ServerMessage::Rmg { trid, version, group } => {
                write!(w, "RMG {trid}")?;
                w.optional(version.as_ref())?;
                write!(w, " {group}\r\n")
            }
            ServerMessage::Reg { trid, version, name, group } => {
                write!(w, "REG {trid}")?;
                w.optional(version.as_ref())?;
                match (group, version) {
                    (GroupRef::Number(id), _) => write!(w, " {id} {} 0\r\n", url_encode(name.as_ref())),
                    (GroupRef::Guid(guid), Some(_)) => write!(w, " {} {guid}\r\n", url_encode(name.as_ref())),
                    (GroupRef::Guid(guid), None) => write!(w, " {guid} {}\r\n", url_encode(name.as_ref())),
                }
            }
            ServerMessage::Add { trid, list, version, handle, friendly, group } => {
                write!(w, "ADD {trid} {} {version} {handle} {}", list.code(), url_encode(friendly.as_ref()))?;
                w.optional(group.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::Adc { trid, list, handle, friendly, guid, group } => {
                write!(w, "ADC {trid} {}", list.code())?;
                if let Some(handle) = handle {
                    write!(w, " N={handle}")?;
                }
                if let Some(friendly) = friendly {
                    write!(w, " F={}", url_encode(friendly.as_ref()))?;
                }
                if let Some(guid) = guid {
                    write!(w, " C={guid}")?;
                }
                w.optional(group.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::Rem { trid, list, version, contact, group } => {
                write!(w, "REM {trid} {}", list.code())?;
                w.optional(version.as_ref())?;
                write!(w, " {contact}")?;
                w.optional(group.as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::Rea { trid, version, handle, friendly } => {
                write!(w, "REA {trid} {version} {handle} {}\r\n", url_encode(friendly.as_ref()))
            }
            ServerMessage::Prp { trid, version, property, value } => {
                w.write_str("PRP")?;
                w.optional(trid.as_ref())?;
                w.optional(version.as_ref())?;
                write!(w, " {property}")?;
                w.optional((!value.as_ref().is_empty()).then(|| url_encode(value.as_ref())).as_ref())?;
                w.write_str("\r\n")
            }
            ServerMessage::Sbp { trid, guid, property, value } => {
                write!(w, "SBP {trid} {guid} {property} {}\r\n", url_encode(value.as_ref()))
            }
            ServerMessage::Chg { trid, status, extras } => {
                write!(w, "CHG {trid} {status}")?;
                w.extras(extras)
            }
            ServerMessage::Iln { trid, status, handle, friendly, extras } => {
                write!(w, "ILN {trid} {status} {handle} {}", url_encode(friendly.as_ref()))?;
                w.extras(extras)
            }
            ServerMessage::Nln { status, handle, friendly, extras } => {
                write!(w, "NLN {status} {handle} {}", url_encode(friendly.as_ref()))?;
                w.extras(extras)
            }
            ServerMessage::Fln { handle } => write!(w, "FLN {handle}\r\n"),
            ServerMessage::Ubx { handle, payload } => {
                write!(w, "UBX {handle} {}\r\n", payload.as_ref().len())?;
                w.0.put_slice(payload.as_ref());
                Ok(())
            }
            ServerMessage::Uux { trid } => write!(w, "UUX {trid} 0\r\n"),
            ServerMessage::Qng { interval: Some(seconds) } => write!(w, "QNG {seconds}\r\n"),
            ServerMessage::Qng { interval: None } => w.write_str("QNG\r\n"),
            ServerMessage::Chl { challenge } => write!(w, "CHL 0 {challenge}\r\n"),
            ServerMessage::Qry { trid } => write!(w, "QRY {trid}\r\n"),
            ServerMessage::Url { trid, rru, url, id } => write!(w, "URL {trid} {rru} {url} {id}\r\n"),
            ServerMessage::Gcf { trid, file, payload } => {
                write!(w, "GCF {trid} {file} {}\r\n", payload.as_ref().len())?;
                w.0.put_slice(payload.as_ref());
                Ok(())
            }
            ServerMessage::Rng { session, address, cookie, caller, friendly } => {
                write!(w, "RNG {session} {address} CKI {cookie} {caller} {}\r\n", url_encode(friendly.as_ref()))
            }
            ServerMessage::Out { reason: Some(reason) } => write!(w, "OUT {reason}\r\n"),
            ServerMessage::Out { reason: None } => w.write_str("OUT\r\n"),
            ServerMessage::Error { code, trid: Some(trid) } => write!(w, "{} {trid}\r\n", code.number()),
            ServerMessage::Error { code, trid: None } => write!(w, "{}\r\n", code.number()),
            ServerMessage::Cal { trid, session } => write!(w, "CAL {trid} RINGING {session}\r\n"),
            ServerMessage::Iro { trid, index, total, handle, friendly } => {
                write!(w, "IRO {trid} {index} {total} {handle} {}\r\n", url_encode(friendly.as_ref()))
            }
            ServerMessage::AnsOk { trid } => write!(w, "ANS {trid} OK\r\n"),
            ServerMessage::Joi { handle, friendly } => write!(w, "JOI {handle} {}\r\n", url_encode(friendly.as_ref())),
            ServerMessage::Bye { handle } => write!(w, "BYE {handle}\r\n"),
            ServerMessage::Msg { handle, friendly, body } => {
                write!(w, "MSG {handle} {} {}\r\n", url_encode(friendly.as_ref()), body.as_ref().len())?;
                w.0.put_slice(body.as_ref());
                Ok(())
            }
            ServerMessage::Ack { trid } => write!(w, "ACK {trid}\r\n"),
            ServerMessage::Nak { trid } => write!(w, "NAK {trid}\r\n"),
        }
    }
}

impl<S: Display> Display for GroupRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Number(id) => write!(f, "{id}"),
            GroupRef::Guid(guid) => guid.fmt(f),
        }
    }
}

struct LineWriter<'a>(&'a mut BytesMut);

impl LineWriter<'_> {
    /// ` value` when there is one.
    fn optional(&mut self, value: Option<impl Display>) -> std::fmt::Result {
        match value {
            Some(value) => write!(self, " {value}"),
            None => Ok(()),
        }
    }

    fn extras(&mut self, extras: &PresenceExtras<impl Display>) -> std::fmt::Result {
        self.optional(extras.capabilities)?;
        self.optional(extras.object.as_ref())?;
        self.write_str("\r\n")
    }
}

impl Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: Reply<'_>) -> String {
        String::from_utf8(reply.to_vec()).unwrap()
    }

    #[test]
    fn lines_match_the_draft() {
        assert_eq!(
            text(Reply::Lst {
                trid: 7,
                list: List::Forward,
                version: 3,
                index: 1,
                total: 2,
                handle: "em@hotmail.com",
                friendly: "Auntie Em",
                groups: None,
            }),
            "LST 7 FL 3 1 2 em@hotmail.com Auntie%20Em\r\n"
        );
        assert_eq!(text(Reply::LstEmpty { trid: 7, list: List::Reverse, version: 3 }), "LST 7 RL 3 0 0\r\n");
        assert_eq!(text(Reply::Error { code: ErrorCode::NotOnline, trid: Some(4) }), "217 4\r\n");
        assert_eq!(
            text(Reply::Msg { handle: "a@hotmail.com", friendly: "A", body: b"hi" }),
            "MSG a@hotmail.com A 2\r\nhi"
        );
    }
}
