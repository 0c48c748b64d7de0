//! Typed messages the server sends, encoded straight into an output buffer.
//! Friendly names are given as Unicode and URL-encoded here.

use crate::command::{List, PrivacyMode, PromptMode, Trid};
use crate::error_code::ErrorCode;
use crate::status::MsnStatus;
use crate::text::url_encode;
use bytes::{BufMut, BytesMut};
use std::fmt::Write;

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
pub enum GroupRef<'a> {
    Number(u64),
    Guid(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `VER trid dialect`, or `VER trid 0` when no offered dialect is spoken.
    Ver {
        trid: Trid,
        dialect: Option<&'a str>,
    },
    /// `CVR trid recommended recommended minimum download-url info-url`.
    Cvr {
        trid: Trid,
        recommended: &'a str,
        minimum: &'a str,
        download_url: &'a str,
        info_url: &'a str,
    },
    Inf {
        trid: Trid,
        packages: &'a str,
    },
    /// `USR trid MD5 S challenge` or `USR trid TWN S policy`.
    UsrChallenge {
        trid: Trid,
        package: &'a str,
        challenge: &'a str,
    },
    UsrOk {
        trid: Trid,
        handle: &'a str,
        friendly: &'a str,
        shape: UsrOkShape,
    },
    /// `XFR trid NS address [0 current]`: log in at another notification server; MSNP8+ also
    /// name the server the client is on.
    XfrNs {
        trid: Trid,
        address: &'a str,
        current: Option<&'a str>,
    },
    /// `XFR trid SB address CKI cookie`.
    XfrSb {
        trid: Trid,
        address: &'a str,
        cookie: &'a str,
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
        handle: &'a str,
        friendly: &'a str,
        groups: Option<&'a str>,
    },
    /// An empty list: `LST trid LIST ver 0 0`.
    LstEmpty {
        trid: Trid,
        list: List,
        version: u32,
    },
    /// MSNP8–9: `LST handle friendly lists [groups]`.
    LstBitmask {
        handle: &'a str,
        friendly: &'a str,
        lists: u8,
        groups: Option<&'a str>,
    },
    /// MSNP10+: `LST N=handle F=friendly [C=guid] lists [network] [groups]` (the network id, 1
    /// for MSN, from MSNP12).
    LstGuid {
        handle: &'a str,
        friendly: &'a str,
        guid: Option<&'a str>,
        lists: u8,
        network: Option<u8>,
        groups: Option<&'a str>,
    },
    /// MSNP7: `LSG trid ver i n id name 0`.
    LsgIndexed {
        trid: Trid,
        version: u32,
        index: usize,
        total: usize,
        id: u64,
        name: &'a str,
    },
    /// MSNP8–9 `LSG id name 0`; MSNP10+ `LSG name guid`.
    Lsg {
        group: GroupRef<'a>,
        name: &'a str,
    },
    /// MSNP7–9 `ADG trid ver name id 0`; by GUID `ADG trid [ver] name guid`
    /// (see [`Dialect::group_replies_carry_version`](crate::Dialect::group_replies_carry_version)).
    Adg {
        trid: Trid,
        version: Option<u32>,
        name: &'a str,
        group: GroupRef<'a>,
    },
    /// `RMG trid [ver] group`.
    Rmg {
        trid: Trid,
        version: Option<u32>,
        group: GroupRef<'a>,
    },
    /// MSNP7–9 `REG trid ver id name 0`; by GUID `REG trid ver name guid` with a version,
    /// `REG trid guid name` without one.
    Reg {
        trid: Trid,
        version: Option<u32>,
        name: &'a str,
        group: GroupRef<'a>,
    },
    /// `ADD trid LIST ver handle friendly [group]`.
    Add {
        trid: Trid,
        list: List,
        version: u32,
        handle: &'a str,
        friendly: &'a str,
        group: Option<u64>,
    },
    /// MSNP10+: `ADC trid LIST [N=handle] [F=friendly] [C=guid] [group]`.
    Adc {
        trid: Trid,
        list: List,
        handle: Option<&'a str>,
        friendly: Option<&'a str>,
        guid: Option<&'a str>,
        group: Option<&'a str>,
    },
    /// `REM trid LIST [ver] contact [group]`: MSNP10+ has no version, and names FL entries by GUID.
    Rem {
        trid: Trid,
        list: List,
        version: Option<u32>,
        contact: &'a str,
        group: Option<&'a str>,
    },
    /// `REA trid ver handle friendly` (MSNP2–9).
    Rea {
        trid: Trid,
        version: u32,
        handle: &'a str,
        friendly: &'a str,
    },
    /// `PRP [trid] [ver] property [value]`: in `SYN` without trid; MSNP10+ without version; an
    /// empty value (a cleared property) is left out.
    Prp {
        trid: Option<Trid>,
        version: Option<u32>,
        property: &'a str,
        value: &'a str,
    },
    /// `SBP trid guid property value` (MSNP10+).
    Sbp {
        trid: Trid,
        guid: &'a str,
        property: &'a str,
        value: &'a str,
    },
    /// `CHG trid status [capabilities [msn-object]]`.
    Chg {
        trid: Trid,
        status: MsnStatus,
        extras: PresenceExtras<'a>,
    },
    Iln {
        trid: Trid,
        status: MsnStatus,
        handle: &'a str,
        friendly: &'a str,
        extras: PresenceExtras<'a>,
    },
    Nln {
        status: MsnStatus,
        handle: &'a str,
        friendly: &'a str,
        extras: PresenceExtras<'a>,
    },
    Fln {
        handle: &'a str,
    },
    /// `UBX handle len` with the contact's personal message XML (MSNP11+).
    Ubx {
        handle: &'a str,
        payload: &'a [u8],
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
        challenge: &'a str,
    },
    /// `QRY trid`: the challenge was answered right.
    Qry {
        trid: Trid,
    },
    /// `URL trid rru url id`.
    Url {
        trid: Trid,
        rru: &'a str,
        url: &'a str,
        id: u32,
    },
    /// `GCF trid file len` with the file.
    Gcf {
        trid: Trid,
        file: &'a str,
        payload: &'a [u8],
    },
    Rng {
        session: u64,
        address: &'a str,
        cookie: &'a str,
        caller: &'a str,
        friendly: &'a str,
    },
    /// `OUT` with an optional reason (`OTH`, `SSD`).
    Out {
        reason: Option<&'a str>,
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
        handle: &'a str,
        friendly: &'a str,
    },
    AnsOk {
        trid: Trid,
    },
    Joi {
        handle: &'a str,
        friendly: &'a str,
    },
    Bye {
        handle: &'a str,
    },
    Msg {
        handle: &'a str,
        friendly: &'a str,
        body: &'a [u8],
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PresenceExtras<'a> {
    pub capabilities: Option<u32>,
    pub object: Option<&'a str>,
}

impl Reply<'_> {
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
        match *self {
            Reply::Ver { trid, dialect } => write!(w, "VER {trid} {}\r\n", dialect.unwrap_or("0")),
            Reply::Cvr { trid, recommended, minimum, download_url, info_url } => {
                write!(w, "CVR {trid} {recommended} {recommended} {minimum} {download_url} {info_url}\r\n")
            }
            Reply::Inf { trid, packages } => write!(w, "INF {trid} {packages}\r\n"),
            Reply::UsrChallenge { trid, package, challenge } => {
                write!(w, "USR {trid} {package} S {challenge}\r\n")
            }
            Reply::UsrOk { trid, handle, friendly, shape } => {
                write!(w, "USR {trid} OK {handle}")?;
                if shape.friendly {
                    write!(w, " {}", url_encode(friendly))?;
                }
                if shape.verified {
                    w.write_str(" 1")?;
                }
                if shape.kids_flag {
                    w.write_str(" 0")?;
                }
                w.write_str("\r\n")
            }
            Reply::XfrNs { trid, address, current: None } => write!(w, "XFR {trid} NS {address}\r\n"),
            Reply::XfrNs { trid, address, current: Some(current) } => {
                write!(w, "XFR {trid} NS {address} 0 {current}\r\n")
            }
            Reply::XfrSb { trid, address, cookie } => write!(w, "XFR {trid} SB {address} CKI {cookie}\r\n"),
            Reply::Syn { trid, version } => write!(w, "SYN {trid} {version}\r\n"),
            Reply::SynCounts { trid, version, settings_version, contacts, groups } => {
                write!(w, "SYN {trid} {version}")?;
                w.optional(settings_version)?;
                write!(w, " {contacts} {groups}\r\n")
            }
            Reply::Gtc { trid, version, mode } => {
                w.write_str("GTC")?;
                w.optional(trid)?;
                w.optional(version)?;
                write!(w, " {}\r\n", mode.code())
            }
            Reply::Blp { trid, version, mode } => {
                w.write_str("BLP")?;
                w.optional(trid)?;
                w.optional(version)?;
                write!(w, " {}\r\n", mode.code())
            }
            Reply::Lst { trid, list, version, index, total, handle, friendly, groups } => {
                write!(w, "LST {trid} {} {version} {index} {total} {handle} {}", list.code(), url_encode(friendly))?;
                w.optional(groups)?;
                w.write_str("\r\n")
            }
            Reply::LstEmpty { trid, list, version } => write!(w, "LST {trid} {} {version} 0 0\r\n", list.code()),
            Reply::LstBitmask { handle, friendly, lists, groups } => {
                write!(w, "LST {handle} {} {lists}", url_encode(friendly))?;
                w.optional(groups)?;
                w.write_str("\r\n")
            }
            Reply::LstGuid { handle, friendly, guid, lists, network, groups } => {
                write!(w, "LST N={handle} F={}", url_encode(friendly))?;
                if let Some(guid) = guid {
                    write!(w, " C={guid}")?;
                }
                write!(w, " {lists}")?;
                w.optional(network)?;
                w.optional(groups)?;
                w.write_str("\r\n")
            }
            Reply::LsgIndexed { trid, version, index, total, id, name } => {
                write!(w, "LSG {trid} {version} {index} {total} {id} {} 0\r\n", url_encode(name))
            }
            Reply::Lsg { group: GroupRef::Number(id), name } => write!(w, "LSG {id} {} 0\r\n", url_encode(name)),
            Reply::Lsg { group: GroupRef::Guid(guid), name } => write!(w, "LSG {} {guid}\r\n", url_encode(name)),
            Reply::Adg { trid, version, name, group } => {
                write!(w, "ADG {trid}")?;
                w.optional(version)?;
                match group {
                    GroupRef::Number(id) => write!(w, " {} {id} 0\r\n", url_encode(name)),
                    GroupRef::Guid(guid) => write!(w, " {} {guid}\r\n", url_encode(name)),
                }
            }
            Reply::Rmg { trid, version, group } => {
                write!(w, "RMG {trid}")?;
                w.optional(version)?;
                write!(w, " {group}\r\n")
            }
            Reply::Reg { trid, version, name, group } => {
                write!(w, "REG {trid}")?;
                w.optional(version)?;
                match (group, version) {
                    (GroupRef::Number(id), _) => write!(w, " {id} {} 0\r\n", url_encode(name)),
                    (GroupRef::Guid(guid), Some(_)) => write!(w, " {} {guid}\r\n", url_encode(name)),
                    (GroupRef::Guid(guid), None) => write!(w, " {guid} {}\r\n", url_encode(name)),
                }
            }
            Reply::Add { trid, list, version, handle, friendly, group } => {
                write!(w, "ADD {trid} {} {version} {handle} {}", list.code(), url_encode(friendly))?;
                w.optional(group)?;
                w.write_str("\r\n")
            }
            Reply::Adc { trid, list, handle, friendly, guid, group } => {
                write!(w, "ADC {trid} {}", list.code())?;
                if let Some(handle) = handle {
                    write!(w, " N={handle}")?;
                }
                if let Some(friendly) = friendly {
                    write!(w, " F={}", url_encode(friendly))?;
                }
                if let Some(guid) = guid {
                    write!(w, " C={guid}")?;
                }
                w.optional(group)?;
                w.write_str("\r\n")
            }
            Reply::Rem { trid, list, version, contact, group } => {
                write!(w, "REM {trid} {}", list.code())?;
                w.optional(version)?;
                write!(w, " {contact}")?;
                w.optional(group)?;
                w.write_str("\r\n")
            }
            Reply::Rea { trid, version, handle, friendly } => {
                write!(w, "REA {trid} {version} {handle} {}\r\n", url_encode(friendly))
            }
            Reply::Prp { trid, version, property, value } => {
                w.write_str("PRP")?;
                w.optional(trid)?;
                w.optional(version)?;
                write!(w, " {property}")?;
                w.optional((!value.is_empty()).then(|| url_encode(value)))?;
                w.write_str("\r\n")
            }
            Reply::Sbp { trid, guid, property, value } => {
                write!(w, "SBP {trid} {guid} {property} {}\r\n", url_encode(value))
            }
            Reply::Chg { trid, status, extras } => {
                write!(w, "CHG {trid} {status}")?;
                w.extras(extras)
            }
            Reply::Iln { trid, status, handle, friendly, extras } => {
                write!(w, "ILN {trid} {status} {handle} {}", url_encode(friendly))?;
                w.extras(extras)
            }
            Reply::Nln { status, handle, friendly, extras } => {
                write!(w, "NLN {status} {handle} {}", url_encode(friendly))?;
                w.extras(extras)
            }
            Reply::Fln { handle } => write!(w, "FLN {handle}\r\n"),
            Reply::Ubx { handle, payload } => {
                write!(w, "UBX {handle} {}\r\n", payload.len())?;
                w.0.put_slice(payload);
                Ok(())
            }
            Reply::Uux { trid } => write!(w, "UUX {trid} 0\r\n"),
            Reply::Qng { interval: Some(seconds) } => write!(w, "QNG {seconds}\r\n"),
            Reply::Qng { interval: None } => w.write_str("QNG\r\n"),
            Reply::Chl { challenge } => write!(w, "CHL 0 {challenge}\r\n"),
            Reply::Qry { trid } => write!(w, "QRY {trid}\r\n"),
            Reply::Url { trid, rru, url, id } => write!(w, "URL {trid} {rru} {url} {id}\r\n"),
            Reply::Gcf { trid, file, payload } => {
                write!(w, "GCF {trid} {file} {}\r\n", payload.len())?;
                w.0.put_slice(payload);
                Ok(())
            }
            Reply::Rng { session, address, cookie, caller, friendly } => {
                write!(w, "RNG {session} {address} CKI {cookie} {caller} {}\r\n", url_encode(friendly))
            }
            Reply::Out { reason: Some(reason) } => write!(w, "OUT {reason}\r\n"),
            Reply::Out { reason: None } => w.write_str("OUT\r\n"),
            Reply::Error { code, trid: Some(trid) } => write!(w, "{} {trid}\r\n", code.number()),
            Reply::Error { code, trid: None } => write!(w, "{}\r\n", code.number()),
            Reply::Cal { trid, session } => write!(w, "CAL {trid} RINGING {session}\r\n"),
            Reply::Iro { trid, index, total, handle, friendly } => {
                write!(w, "IRO {trid} {index} {total} {handle} {}\r\n", url_encode(friendly))
            }
            Reply::AnsOk { trid } => write!(w, "ANS {trid} OK\r\n"),
            Reply::Joi { handle, friendly } => write!(w, "JOI {handle} {}\r\n", url_encode(friendly)),
            Reply::Bye { handle } => write!(w, "BYE {handle}\r\n"),
            Reply::Msg { handle, friendly, body } => {
                write!(w, "MSG {handle} {} {}\r\n", url_encode(friendly), body.len())?;
                w.0.put_slice(body);
                Ok(())
            }
            Reply::Ack { trid } => write!(w, "ACK {trid}\r\n"),
            Reply::Nak { trid } => write!(w, "NAK {trid}\r\n"),
        }
    }
}

impl std::fmt::Display for GroupRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Number(id) => write!(f, "{id}"),
            GroupRef::Guid(guid) => f.write_str(guid),
        }
    }
}

struct LineWriter<'a>(&'a mut BytesMut);

impl LineWriter<'_> {
    /// ` value` when there is one.
    fn optional(&mut self, value: Option<impl std::fmt::Display>) -> std::fmt::Result {
        match value {
            Some(value) => write!(self, " {value}"),
            None => Ok(()),
        }
    }

    fn extras(&mut self, extras: PresenceExtras<'_>) -> std::fmt::Result {
        self.optional(extras.capabilities)?;
        self.optional(extras.object)?;
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
