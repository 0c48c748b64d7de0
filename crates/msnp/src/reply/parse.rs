//! Reading the server's frames back into [`OwnedReply`], as a client does. Where the same
//! line has several shapes, the dialect the connection speaks decides (what [`Reply::encode`]
//! wrote for it).
//!
//! [`Reply::encode`]: super::ServerMessage::encode

use super::{GroupRef, OwnedReply, PresenceExtras, ServerMessage, UsrOkShape};
use crate::dialect::{Dialect, ListFormat};
use crate::error_code::ErrorCode;
use crate::frame::Frame;
use crate::status::MsnStatus;
use crate::List;
use std::str::FromStr;

/// A frame that is not a server message of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected {verb} line from the server")]
pub struct BadReply {
    pub verb: String,
}

/// The switchboard's `USR OK` names the user in every dialect: `USR trid OK handle friendly`.
pub const SWITCHBOARD_USR_OK: UsrOkShape = UsrOkShape { friendly: true, verified: false, kids_flag: false };

/// The parameters of one frame, read for a client.
struct Params<'a> {
    frame: &'a Frame,
}

impl<'a> Params<'a> {
    fn bad(&self) -> BadReply {
        BadReply { verb: self.frame.verb.as_str().to_owned() }
    }

    fn len(&self) -> usize {
        self.frame.params.len()
    }

    fn get(&self, i: usize) -> Result<&'a str, BadReply> {
        self.frame.params.get(i).map(String::as_str).ok_or_else(|| self.bad())
    }

    fn text(&self, i: usize) -> Result<String, BadReply> {
        self.get(i).map(str::to_owned)
    }

    fn optional(&self, i: usize) -> Option<String> {
        self.frame.params.get(i).cloned()
    }

    fn number<T: FromStr>(&self, i: usize) -> Result<T, BadReply> {
        self.get(i)?.parse().map_err(|_| self.bad())
    }

    fn optional_number<T: FromStr>(&self, i: usize) -> Result<Option<T>, BadReply> {
        self.optional(i).map(|_| self.number(i)).transpose()
    }

    /// A URL-encoded name, decoded.
    fn name(&self, i: usize) -> Result<String, BadReply> {
        percent_encoding::percent_decode_str(self.get(i)?).decode_utf8().map(|n| n.into_owned()).map_err(|_| self.bad())
    }

    fn list(&self, i: usize) -> Result<List, BadReply> {
        List::from_code(self.get(i)?).ok_or_else(|| self.bad())
    }

    fn status(&self, i: usize) -> Result<MsnStatus, BadReply> {
        MsnStatus::from_code(self.get(i)?).ok_or_else(|| self.bad())
    }

    fn payload(&self) -> bytes::Bytes {
        self.frame.payload.clone().unwrap_or_default()
    }

    /// `[capabilities [object]]` from parameter `i` on.
    fn extras(&self, i: usize) -> Result<PresenceExtras<String>, BadReply> {
        Ok(PresenceExtras { capabilities: self.optional_number(i)?, object: self.optional(i + 1) })
    }

    /// A group named by number (`id`) before MSNP10, by GUID from it.
    fn group(&self, i: usize, dialect: Dialect) -> Result<GroupRef<String>, BadReply> {
        if dialect.has_adc() {
            Ok(GroupRef::Guid(self.text(i)?))
        } else {
            Ok(GroupRef::Number(self.number(i)?))
        }
    }

    /// `N=`, `F=` or `C=` at parameter `i`, if that is what is there.
    fn tagged(&self, i: usize, tag: &str) -> Option<&'a str> {
        self.frame.params.get(i).and_then(|p| p.strip_prefix(tag))
    }
}

fn decode_name(text: &str, p: &Params<'_>) -> Result<String, BadReply> {
    percent_encoding::percent_decode_str(text).decode_utf8().map(|n| n.into_owned()).map_err(|_| p.bad())
}

impl OwnedReply {
    /// A line of a dispatch or notification server that speaks `dialect`.
    pub fn parse(frame: &Frame, dialect: Dialect) -> Result<OwnedReply, BadReply> {
        let p = Params { frame };
        let reply = match frame.verb.as_str() {
            "VER" => ServerMessage::Ver { trid: p.number(0)?, dialect: Some(p.text(1)?).filter(|d| d != "0") },
            "CVR" => ServerMessage::Cvr {
                trid: p.number(0)?,
                recommended: p.text(1)?,
                minimum: p.text(3)?,
                download_url: p.text(4)?,
                info_url: p.text(5)?,
            },
            "INF" => ServerMessage::Inf { trid: p.number(0)?, packages: p.text(1)? },
            "USR" => return usr(&p, dialect.usr_ok()),
            "XFR" => match p.get(1)? {
                "NS" => ServerMessage::XfrNs { trid: p.number(0)?, address: p.text(2)?, current: p.optional(4) },
                "SB" => ServerMessage::XfrSb { trid: p.number(0)?, address: p.text(2)?, cookie: p.text(4)? },
                _ => return Err(p.bad()),
            },
            "SYN" => match p.len() {
                2 => ServerMessage::Syn { trid: p.number(0)?, version: p.number(1)? },
                4 | 5 => {
                    let settings_version = if p.len() == 5 { Some(p.number(2)?) } else { None };
                    ServerMessage::SynCounts {
                        trid: p.number(0)?,
                        version: p.number(1)?,
                        settings_version,
                        contacts: p.number(p.len() - 2)?,
                        groups: p.number(p.len() - 1)?,
                    }
                }
                _ => return Err(p.bad()),
            },
            "GTC" | "BLP" => {
                // `[trid] [version] mode`: the mode is last.
                let last = p.len().checked_sub(1).ok_or_else(|| p.bad())?;
                let trid = if last >= 1 { Some(p.number(0)?) } else { None };
                let version = if last >= 2 { Some(p.number(1)?) } else { None };
                let mode = p.get(last)?;
                if frame.verb.as_str() == "GTC" {
                    let mode = crate::command::PromptMode::from_code(mode).ok_or_else(|| p.bad())?;
                    ServerMessage::Gtc { trid, version, mode }
                } else {
                    let mode = crate::command::PrivacyMode::from_code(mode).ok_or_else(|| p.bad())?;
                    ServerMessage::Blp { trid, version, mode }
                }
            }
            "LST" => lst(&p, dialect)?,
            "LSG" => match p.len() {
                7 => ServerMessage::LsgIndexed {
                    trid: p.number(0)?,
                    version: p.number(1)?,
                    index: p.number(2)?,
                    total: p.number(3)?,
                    id: p.number(4)?,
                    name: p.name(5)?,
                },
                3 => ServerMessage::Lsg { group: GroupRef::Number(p.number(0)?), name: p.name(1)? },
                2 => ServerMessage::Lsg { group: GroupRef::Guid(p.text(1)?), name: p.name(0)? },
                _ => return Err(p.bad()),
            },
            "ADG" => {
                let (version, at) = versioned(&p, dialect.group_replies_carry_version())?;
                ServerMessage::Adg { trid: p.number(0)?, version, name: p.name(at)?, group: p.group(at + 1, dialect)? }
            }
            "RMG" => {
                let (version, at) = versioned(&p, dialect.group_replies_carry_version())?;
                ServerMessage::Rmg { trid: p.number(0)?, version, group: p.group(at, dialect)? }
            }
            "REG" => {
                let (version, at) = versioned(&p, dialect.group_replies_carry_version())?;
                let (name, group) = match (dialect.has_adc(), version) {
                    (false, _) => (p.name(at + 1)?, GroupRef::Number(p.number(at)?)),
                    (true, Some(_)) => (p.name(at)?, GroupRef::Guid(p.text(at + 1)?)),
                    (true, None) => (p.name(at + 1)?, GroupRef::Guid(p.text(at)?)),
                };
                ServerMessage::Reg { trid: p.number(0)?, version, name, group }
            }
            "ADD" => ServerMessage::Add {
                trid: p.number(0)?,
                list: p.list(1)?,
                version: p.number(2)?,
                handle: p.text(3)?,
                friendly: p.name(4)?,
                group: p.optional_number(5)?,
            },
            "ADC" => {
                let mut at = 2;
                let mut take = |tag| {
                    let value = p.tagged(at, tag);
                    at += usize::from(value.is_some());
                    value.map(str::to_owned)
                };
                let (handle, friendly, guid) = (take("N="), take("F="), take("C="));
                let friendly = friendly.map(|f| decode_name(&f, &p)).transpose()?;
                ServerMessage::Adc {
                    trid: p.number(0)?,
                    list: p.list(1)?,
                    handle,
                    friendly,
                    guid,
                    group: p.optional(at),
                }
            }
            "REM" => {
                let (version, at) = match dialect.replies_carry_version() {
                    true => (Some(p.number(2)?), 3),
                    false => (None, 2),
                };
                ServerMessage::Rem {
                    trid: p.number(0)?,
                    list: p.list(1)?,
                    version,
                    contact: p.text(at)?,
                    group: p.optional(at + 1),
                }
            }
            "REA" => ServerMessage::Rea {
                trid: p.number(0)?,
                version: p.number(1)?,
                handle: p.text(2)?,
                friendly: p.name(3)?,
            },
            "PRP" => {
                // `[trid [version]] property [value]`: a property's name is never a number.
                let numbered = p.get(0)?.bytes().all(|b| b.is_ascii_digit());
                let trid = if numbered { Some(p.number(0)?) } else { None };
                let version = if numbered && dialect.replies_carry_version() { Some(p.number(1)?) } else { None };
                let at = usize::from(trid.is_some()) + usize::from(version.is_some());
                let value = match p.optional(at + 1) {
                    Some(_) => p.name(at + 1)?,
                    None => String::new(),
                };
                ServerMessage::Prp { trid, version, property: p.text(at)?, value }
            }
            "SBP" => {
                ServerMessage::Sbp { trid: p.number(0)?, guid: p.text(1)?, property: p.text(2)?, value: p.name(3)? }
            }
            "CHG" => ServerMessage::Chg { trid: p.number(0)?, status: p.status(1)?, extras: p.extras(2)? },
            "ILN" => ServerMessage::Iln {
                trid: p.number(0)?,
                status: p.status(1)?,
                handle: p.text(2)?,
                friendly: p.name(3)?,
                extras: p.extras(4)?,
            },
            "NLN" => ServerMessage::Nln {
                status: p.status(0)?,
                handle: p.text(1)?,
                friendly: p.name(2)?,
                extras: p.extras(3)?,
            },
            "FLN" => ServerMessage::Fln { handle: p.text(0)? },
            "UBX" => ServerMessage::Ubx { handle: p.text(0)?, payload: p.payload() },
            "UUX" => ServerMessage::Uux { trid: p.number(0)? },
            "QNG" => ServerMessage::Qng { interval: p.optional_number(0)? },
            "CHL" => ServerMessage::Chl { challenge: p.text(1)? },
            "QRY" => ServerMessage::Qry { trid: p.number(0)? },
            "URL" => ServerMessage::Url { trid: p.number(0)?, rru: p.text(1)?, url: p.text(2)?, id: p.number(3)? },
            "GCF" => ServerMessage::Gcf { trid: p.number(0)?, file: p.text(1)?, payload: p.payload() },
            "RNG" => ServerMessage::Rng {
                session: p.number(0)?,
                address: p.text(1)?,
                cookie: p.text(3)?,
                caller: p.text(4)?,
                friendly: p.name(5)?,
            },
            _ => return common(&p),
        };
        Ok(reply)
    }

    /// A line of a switchboard.
    pub fn parse_switchboard(frame: &Frame) -> Result<OwnedReply, BadReply> {
        let p = Params { frame };
        let reply = match frame.verb.as_str() {
            "USR" => return usr(&p, SWITCHBOARD_USR_OK),
            "CAL" => ServerMessage::Cal { trid: p.number(0)?, session: p.number(2)? },
            "IRO" => ServerMessage::Iro {
                trid: p.number(0)?,
                index: p.number(1)?,
                total: p.number(2)?,
                handle: p.text(3)?,
                friendly: p.name(4)?,
            },
            "ANS" if p.get(1)? == "OK" => ServerMessage::AnsOk { trid: p.number(0)? },
            "JOI" => ServerMessage::Joi { handle: p.text(0)?, friendly: p.name(1)? },
            "BYE" => ServerMessage::Bye { handle: p.text(0)? },
            "MSG" => ServerMessage::Msg { handle: p.text(0)?, friendly: p.name(1)?, body: p.payload() },
            "ACK" => ServerMessage::Ack { trid: p.number(0)? },
            "NAK" => ServerMessage::Nak { trid: p.number(0)? },
            _ => return common(&p),
        };
        Ok(reply)
    }
}

/// `OUT` and the numbered errors, which every role sends.
fn common(p: &Params<'_>) -> Result<OwnedReply, BadReply> {
    let verb = p.frame.verb.as_str();
    if verb == "OUT" {
        return Ok(ServerMessage::Out { reason: p.optional(0) });
    }
    let number: u16 = verb.parse().map_err(|_| p.bad())?;
    let code = ErrorCode::from_number(number).ok_or_else(|| p.bad())?;
    Ok(ServerMessage::Error { code, trid: p.optional_number(0)? })
}

/// `USR trid OK handle [friendly] [verified] [kids]` in the given shape, or a challenge.
fn usr(p: &Params<'_>, shape: UsrOkShape) -> Result<OwnedReply, BadReply> {
    let trid = p.number(0)?;
    if p.get(1)? != "OK" {
        return Ok(ServerMessage::UsrChallenge { trid, package: p.text(1)?, challenge: p.text(3)? });
    }
    let friendly = if shape.friendly { p.name(3)? } else { String::new() };
    Ok(ServerMessage::UsrOk { trid, handle: p.text(2)?, friendly, shape })
}

/// A `[version]` after the trid, when the dialect's replies carry one; and where the rest starts.
fn versioned(p: &Params<'_>, carries_version: bool) -> Result<(Option<u32>, usize), BadReply> {
    Ok(if carries_version { (Some(p.number(1)?), 2) } else { (None, 1) })
}

fn lst(p: &Params<'_>, dialect: Dialect) -> Result<OwnedReply, BadReply> {
    Ok(match dialect.list_format() {
        ListFormat::PerList if p.len() == 5 => {
            ServerMessage::LstEmpty { trid: p.number(0)?, list: p.list(1)?, version: p.number(2)? }
        }
        ListFormat::PerList => ServerMessage::Lst {
            trid: p.number(0)?,
            list: p.list(1)?,
            version: p.number(2)?,
            index: p.number(3)?,
            total: p.number(4)?,
            handle: p.text(5)?,
            friendly: p.name(6)?,
            groups: p.optional(7),
        },
        ListFormat::Bitmask => ServerMessage::LstBitmask {
            handle: p.text(0)?,
            friendly: p.name(1)?,
            lists: p.number(2)?,
            groups: p.optional(3),
        },
        ListFormat::Guids => {
            let handle = p.tagged(0, "N=").ok_or_else(|| p.bad())?.to_owned();
            let friendly = decode_name(p.tagged(1, "F=").ok_or_else(|| p.bad())?, p)?;
            let guid = p.tagged(2, "C=").map(str::to_owned);
            let at = 2 + usize::from(guid.is_some());
            let lists = p.number(at)?;
            let network = if dialect.lst_has_network() { p.optional_number(at + 1)? } else { None };
            let groups = p.optional(at + 1 + usize::from(network.is_some()));
            ServerMessage::LstGuid { handle, friendly, guid, lists, network, groups }
        }
    })
}
