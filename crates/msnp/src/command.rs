//! Typed commands a client sends, for the notification role (which also answers the dispatch
//! role's `VER`/`INF`/`USR`) and the switchboard role.

use crate::error_code::ErrorCode;
use crate::frame::{Frame, Verb};
use crate::status::MsnStatus;
use crate::text::{decode_friendly_name, NameError};
use bytes::Bytes;

/// Transaction id: an opaque number from 0 to 2^32-1 chosen by the client (draft §5.6).
pub type Trid = u32;

/// A command the server cannot act on: the error to answer with, and the trid if one was readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandError {
    pub trid: Option<Trid>,
    pub code: ErrorCode,
}

/// The user lists of draft §5.7, and the pending list of MSNP10+ (who added the user and has
/// not been answered yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum List {
    Forward,
    Allow,
    Block,
    Reverse,
    Pending,
}

impl List {
    /// The lists of the draft, in the order `SYN` sends them.
    pub const DRAFT: [List; 4] = [List::Forward, List::Allow, List::Block, List::Reverse];
    pub const ALL: [List; 5] = [List::Forward, List::Allow, List::Block, List::Reverse, List::Pending];

    pub fn code(self) -> &'static str {
        match self {
            List::Forward => "FL",
            List::Allow => "AL",
            List::Block => "BL",
            List::Reverse => "RL",
            List::Pending => "PL",
        }
    }

    /// The list's bit in the `LST` lines of MSNP8+.
    pub fn bit(self) -> u8 {
        match self {
            List::Forward => 1,
            List::Allow => 2,
            List::Block => 4,
            List::Reverse => 8,
            List::Pending => 16,
        }
    }

    pub fn from_code(code: &str) -> Option<List> {
        List::ALL.into_iter().find(|l| l.code() == code)
    }
}

/// `A`: ask the user when someone adds them; `N`: allow automatically (GTC, draft §7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    Ask,
    AllowAutomatically,
}

impl PromptMode {
    pub fn code(self) -> &'static str {
        match self {
            PromptMode::Ask => "A",
            PromptMode::AllowAutomatically => "N",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "A" => Some(PromptMode::Ask),
            "N" => Some(PromptMode::AllowAutomatically),
            _ => None,
        }
    }
}

/// `AL`: everyone not blocked may reach the user; `BL`: only those on the allow list (BLP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyMode {
    AllowAll,
    BlockAll,
}

impl PrivacyMode {
    pub fn code(self) -> &'static str {
        match self {
            PrivacyMode::AllowAll => "AL",
            PrivacyMode::BlockAll => "BL",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "AL" => Some(PrivacyMode::AllowAll),
            "BL" => Some(PrivacyMode::BlockAll),
            _ => None,
        }
    }
}

/// `USR` sequence parameter: `I` starts an authentication, `S` continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStage {
    Initiate,
    Subsequent,
}

/// Delivery acknowledgement requested for a switchboard `MSG` (draft §8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// `U`: no answer at all.
    Unacknowledged,
    /// `N`: `NAK` only when delivery failed.
    NegativeOnly,
    /// `A`: `ACK` on delivery, `NAK` on failure; also `D`, the data messages of MSNP9+.
    Acknowledged,
}

impl AckMode {
    pub fn code(self) -> &'static str {
        match self {
            AckMode::Unacknowledged => "U",
            AckMode::NegativeOnly => "N",
            AckMode::Acknowledged => "A",
        }
    }
}

/// A contact named in `ADC`/`REM` (MSNP10+): by handle (`N=`) or by contact GUID (`C=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactRef {
    Handle(String),
    Guid(String),
}

/// A command sent to the dispatch or notification role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsCommand {
    Ver {
        trid: Trid,
        dialects: Vec<String>,
    },
    /// `CVR trid locale os os-ver arch lib-name client-ver client-name [handle]`: the client
    /// says what it is; kept as one string for the log.
    Cvr {
        trid: Trid,
        client: String,
    },
    Inf {
        trid: Trid,
    },
    Usr {
        trid: Trid,
        package: String,
        stage: AuthStage,
        value: String,
    },
    /// `SYN trid version [settings-version]`; versions that are not numbers (MSNP10+
    /// timestamps) read as 0, which asks for everything.
    Syn {
        trid: Trid,
        version: u32,
    },
    Gtc {
        trid: Trid,
        mode: PromptMode,
    },
    Blp {
        trid: Trid,
        mode: PrivacyMode,
    },
    Lst {
        trid: Trid,
        list: List,
    },
    /// `ADD trid LIST handle name [group]` (MSNP2–9; the group from MSNP7).
    Add {
        trid: Trid,
        list: List,
        handle: String,
        name: String,
        group: Option<String>,
    },
    /// `ADC trid LIST N=handle [F=name]` or `ADC trid FL C=guid group` (MSNP10+).
    Adc {
        trid: Trid,
        list: List,
        contact: ContactRef,
        name: Option<String>,
        group: Option<String>,
    },
    /// `REM trid LIST contact [group]`: the contact is a handle, or (FL, MSNP10+) a GUID.
    Rem {
        trid: Trid,
        list: List,
        contact: String,
        group: Option<String>,
    },
    /// `LSG trid`: the groups (MSNP7, outside `SYN`).
    Lsg {
        trid: Trid,
    },
    /// `ADG trid name [0]`.
    Adg {
        trid: Trid,
        name: String,
    },
    Rmg {
        trid: Trid,
        group: String,
    },
    /// `REG trid group name [0]`.
    Reg {
        trid: Trid,
        group: String,
        name: String,
    },
    /// `REA trid handle name` (MSNP2–9): rename oneself (own handle) or a contact.
    Rea {
        trid: Trid,
        handle: String,
        name: String,
    },
    /// `PRP trid property [value]`: `MFN` is the own friendly name, the rest phone numbers and
    /// settings; a missing value clears it.
    Prp {
        trid: Trid,
        property: String,
        value: Option<String>,
    },
    /// `SBP trid contact-guid property value` (MSNP10+): a property of a contact, e.g. `MFN`.
    Sbp {
        trid: Trid,
        contact: String,
        property: String,
        value: String,
    },
    /// `CHG trid status [capabilities [msn-object]]`; the object stays URL-encoded, as it is relayed.
    Chg {
        trid: Trid,
        status: MsnStatus,
        capabilities: Option<u32>,
        object: Option<String>,
    },
    /// `UUX trid len` with the personal message XML (MSNP11+).
    Uux {
        trid: Trid,
        payload: Bytes,
    },
    /// `QRY trid product-id 32` with the challenge answer.
    Qry {
        trid: Trid,
        product: String,
        payload: Bytes,
    },
    /// `URL trid service [parameter]`: where the web pages of a service are.
    Url {
        trid: Trid,
        service: String,
    },
    /// `GCF trid file`: a configuration file (MSNP11+ clients ask for `Shields.xml`).
    Gcf {
        trid: Trid,
        file: String,
    },
    /// `PNG` (no trid): the client's keepalive.
    Png,
    /// `XFR trid SB`: a referral to a switchboard.
    XfrSb {
        trid: Trid,
    },
    Out,
}

/// A command sent to the switchboard role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbCommand {
    /// `USR trid handle cookie`: the caller authenticates with the cookie of its `XFR SB`.
    Usr {
        trid: Trid,
        handle: String,
        cookie: String,
    },
    /// `ANS trid handle cookie session`: the callee answers a `RNG`.
    Ans {
        trid: Trid,
        handle: String,
        cookie: String,
        session: u64,
    },
    Cal {
        trid: Trid,
        handle: String,
    },
    Msg {
        trid: Trid,
        ack: AckMode,
        body: Bytes,
    },
    Out,
}

/// Reads the parameters of one frame, turning each problem into the right error reply.
struct Params<'a> {
    frame: &'a Frame,
    trid: Option<Trid>,
}

impl<'a> Params<'a> {
    /// Every command but `OUT` starts with a trid; without a readable one the reply is a bare 200.
    fn with_trid(frame: &'a Frame) -> Result<(Self, Trid), CommandError> {
        let trid = frame.trid().ok_or(CommandError { trid: None, code: ErrorCode::SyntaxError })?;
        Ok((Params { frame, trid: Some(trid) }, trid))
    }

    fn error(&self, code: ErrorCode) -> CommandError {
        CommandError { trid: self.trid, code }
    }

    /// Checks the count of parameters after the trid.
    fn expect(&self, min: usize, max: usize) -> Result<(), CommandError> {
        let n = self.frame.params.len().saturating_sub(1);
        if (min..=max).contains(&n) {
            Ok(())
        } else {
            Err(self.error(ErrorCode::SyntaxError))
        }
    }

    /// The `i`-th parameter after the trid.
    fn get(&self, i: usize) -> &'a str {
        self.frame.params.get(i + 1).map(String::as_str).unwrap_or("")
    }

    fn parse<T>(&self, i: usize, f: impl Fn(&str) -> Option<T>) -> Result<T, CommandError> {
        f(self.get(i)).ok_or(self.error(ErrorCode::InvalidParameter))
    }

    /// The `i`-th parameter after the trid, when there is one.
    fn optional(&self, i: usize) -> Option<String> {
        self.frame.params.get(i + 1).cloned()
    }

    fn friendly_name(&self, i: usize) -> Result<String, CommandError> {
        self.decode_name(self.get(i))
    }

    fn decode_name(&self, encoded: &str) -> Result<String, CommandError> {
        decode_friendly_name(encoded).map_err(|e| match e {
            NameError::TooLong | NameError::NotUtf8 => self.error(ErrorCode::InvalidFriendlyName),
        })
    }
}

fn unknown(frame: &Frame) -> CommandError {
    CommandError { trid: frame.trid(), code: ErrorCode::SyntaxError }
}

impl NsCommand {
    pub fn parse(frame: &Frame) -> Result<NsCommand, CommandError> {
        if frame.verb == Verb::new(b"OUT") {
            return Ok(NsCommand::Out);
        }
        if frame.verb == Verb::new(b"PNG") {
            return Ok(NsCommand::Png);
        }
        let (p, trid) = Params::with_trid(frame)?;
        let command = match frame.verb.as_str() {
            "VER" => {
                p.expect(1, 16)?;
                NsCommand::Ver { trid, dialects: frame.params[1..].to_vec() }
            }
            "CVR" => {
                p.expect(7, 8)?;
                NsCommand::Cvr { trid, client: frame.params[1..].join(" ") }
            }
            "INF" => {
                p.expect(0, 0)?;
                NsCommand::Inf { trid }
            }
            "USR" => {
                p.expect(3, 3)?;
                let stage = p.parse(1, |s| match s {
                    "I" => Some(AuthStage::Initiate),
                    "S" => Some(AuthStage::Subsequent),
                    _ => None,
                })?;
                NsCommand::Usr { trid, package: p.get(0).to_owned(), stage, value: p.get(2).to_owned() }
            }
            "SYN" => {
                p.expect(1, 2)?;
                NsCommand::Syn { trid, version: p.get(0).parse().unwrap_or(0) }
            }
            "GTC" => {
                p.expect(1, 1)?;
                NsCommand::Gtc { trid, mode: p.parse(0, PromptMode::from_code)? }
            }
            "BLP" => {
                p.expect(1, 1)?;
                NsCommand::Blp { trid, mode: p.parse(0, PrivacyMode::from_code)? }
            }
            "LST" => {
                p.expect(1, 1)?;
                NsCommand::Lst { trid, list: p.parse(0, List::from_code)? }
            }
            "ADD" => {
                p.expect(3, 4)?;
                let list = p.parse(0, List::from_code)?;
                let group = p.optional(3);
                NsCommand::Add { trid, list, handle: p.get(1).to_owned(), name: p.friendly_name(2)?, group }
            }
            "ADC" => {
                p.expect(2, 3)?;
                let list = p.parse(0, List::from_code)?;
                let (contact, name, group) = match (p.get(1).split_once('='), p.optional(2)) {
                    (Some(("N", handle)), None) => (ContactRef::Handle(handle.to_owned()), None, None),
                    (Some(("N", handle)), Some(name)) => {
                        let name = name.strip_prefix("F=").ok_or(p.error(ErrorCode::InvalidParameter))?;
                        (ContactRef::Handle(handle.to_owned()), Some(p.decode_name(name)?), None)
                    }
                    (Some(("C", guid)), Some(group)) => (ContactRef::Guid(guid.to_owned()), None, Some(group)),
                    _ => return Err(p.error(ErrorCode::InvalidParameter)),
                };
                NsCommand::Adc { trid, list, contact, name, group }
            }
            "REM" => {
                p.expect(2, 3)?;
                let list = p.parse(0, List::from_code)?;
                NsCommand::Rem { trid, list, contact: p.get(1).to_owned(), group: p.optional(2) }
            }
            "LSG" => {
                p.expect(0, 0)?;
                NsCommand::Lsg { trid }
            }
            "ADG" => {
                p.expect(1, 2)?;
                NsCommand::Adg { trid, name: p.friendly_name(0)? }
            }
            "RMG" => {
                p.expect(1, 1)?;
                NsCommand::Rmg { trid, group: p.get(0).to_owned() }
            }
            "REG" => {
                p.expect(2, 3)?;
                NsCommand::Reg { trid, group: p.get(0).to_owned(), name: p.friendly_name(1)? }
            }
            "REA" => {
                p.expect(2, 2)?;
                NsCommand::Rea { trid, handle: p.get(0).to_owned(), name: p.friendly_name(1)? }
            }
            "PRP" => {
                p.expect(1, 2)?;
                let value = match p.optional(1) {
                    Some(value) => Some(p.decode_name(&value)?),
                    None => None,
                };
                NsCommand::Prp { trid, property: p.get(0).to_owned(), value }
            }
            "SBP" => {
                p.expect(3, 3)?;
                NsCommand::Sbp {
                    trid,
                    contact: p.get(0).to_owned(),
                    property: p.get(1).to_owned(),
                    value: p.friendly_name(2)?,
                }
            }
            "CHG" => {
                p.expect(1, 3)?;
                let capabilities = match p.optional(1) {
                    Some(_) => Some(p.parse(1, |s| s.parse().ok())?),
                    None => None,
                };
                NsCommand::Chg { trid, status: p.parse(0, MsnStatus::from_code)?, capabilities, object: p.optional(2) }
            }
            "UUX" => {
                p.expect(0, 0)?;
                NsCommand::Uux { trid, payload: frame.payload.clone().unwrap_or_default() }
            }
            "QRY" => {
                p.expect(1, 1)?;
                NsCommand::Qry {
                    trid,
                    product: p.get(0).to_owned(),
                    payload: frame.payload.clone().unwrap_or_default(),
                }
            }
            "URL" => {
                p.expect(1, 2)?;
                NsCommand::Url { trid, service: p.get(0).to_owned() }
            }
            "GCF" => {
                p.expect(1, 1)?;
                NsCommand::Gcf { trid, file: p.get(0).to_owned() }
            }
            "XFR" => {
                p.expect(1, 1)?;
                p.parse(0, |s| (s == "SB").then_some(()))?;
                NsCommand::XfrSb { trid }
            }
            _ => return Err(unknown(frame)),
        };
        Ok(command)
    }
}

impl SbCommand {
    pub fn parse(frame: &Frame) -> Result<SbCommand, CommandError> {
        if frame.verb == Verb::new(b"OUT") {
            return Ok(SbCommand::Out);
        }
        let (p, trid) = Params::with_trid(frame)?;
        let command = match frame.verb.as_str() {
            "USR" => {
                p.expect(2, 2)?;
                SbCommand::Usr { trid, handle: p.get(0).to_owned(), cookie: p.get(1).to_owned() }
            }
            "ANS" => {
                p.expect(3, 3)?;
                SbCommand::Ans {
                    trid,
                    handle: p.get(0).to_owned(),
                    cookie: p.get(1).to_owned(),
                    session: p.parse(2, |s| s.parse().ok())?,
                }
            }
            "CAL" => {
                p.expect(1, 1)?;
                SbCommand::Cal { trid, handle: p.get(0).to_owned() }
            }
            "MSG" => {
                p.expect(1, 1)?;
                let ack = p.parse(0, |s| match s {
                    "U" => Some(AckMode::Unacknowledged),
                    "N" => Some(AckMode::NegativeOnly),
                    "A" | "D" => Some(AckMode::Acknowledged),
                    _ => None,
                })?;
                SbCommand::Msg { trid, ack, body: frame.payload.clone().unwrap_or_default() }
            }
            _ => return Err(unknown(frame)),
        };
        Ok(command)
    }
}

/// A command as a frame, for a client to write (the inverse of `parse`).
fn frame(verb: &[u8; 3], params: impl IntoIterator<Item = String>) -> Frame {
    Frame::new(Verb::new(verb), params.into_iter().collect())
}

fn with_payload(verb: &[u8; 3], params: impl IntoIterator<Item = String>, payload: &Bytes) -> Frame {
    Frame::with_payload(Verb::new(verb), params.into_iter().collect(), payload.clone())
}

fn name(text: &str) -> String {
    crate::text::url_encode(text).into_owned()
}

impl NsCommand {
    pub fn to_frame(&self) -> Frame {
        let t = |trid: &Trid| trid.to_string();
        match self {
            NsCommand::Ver { trid, dialects } => {
                frame(b"VER", std::iter::once(t(trid)).chain(dialects.iter().cloned()))
            }
            NsCommand::Cvr { trid, client } => {
                frame(b"CVR", std::iter::once(t(trid)).chain(client.split(' ').map(str::to_owned)))
            }
            NsCommand::Inf { trid } => frame(b"INF", [t(trid)]),
            NsCommand::Usr { trid, package, stage, value } => {
                let stage = match stage {
                    AuthStage::Initiate => "I",
                    AuthStage::Subsequent => "S",
                };
                frame(b"USR", [t(trid), package.clone(), stage.to_owned(), value.clone()])
            }
            NsCommand::Syn { trid, version } => frame(b"SYN", [t(trid), version.to_string()]),
            NsCommand::Gtc { trid, mode } => frame(b"GTC", [t(trid), mode.code().to_owned()]),
            NsCommand::Blp { trid, mode } => frame(b"BLP", [t(trid), mode.code().to_owned()]),
            NsCommand::Lst { trid, list } => frame(b"LST", [t(trid), list.code().to_owned()]),
            NsCommand::Add { trid, list, handle, name: friendly, group } => frame(
                b"ADD",
                [t(trid), list.code().to_owned(), handle.clone(), name(friendly)].into_iter().chain(group.clone()),
            ),
            NsCommand::Adc { trid, list, contact, name: friendly, group } => {
                let contact = match contact {
                    ContactRef::Handle(handle) => format!("N={handle}"),
                    ContactRef::Guid(guid) => format!("C={guid}"),
                };
                let friendly = friendly.as_deref().map(|f| format!("F={}", name(f)));
                frame(
                    b"ADC",
                    [t(trid), list.code().to_owned(), contact].into_iter().chain(friendly).chain(group.clone()),
                )
            }
            NsCommand::Rem { trid, list, contact, group } => {
                frame(b"REM", [t(trid), list.code().to_owned(), contact.clone()].into_iter().chain(group.clone()))
            }
            NsCommand::Lsg { trid } => frame(b"LSG", [t(trid)]),
            NsCommand::Adg { trid, name: group } => frame(b"ADG", [t(trid), name(group), "0".to_owned()]),
            NsCommand::Rmg { trid, group } => frame(b"RMG", [t(trid), group.clone()]),
            NsCommand::Reg { trid, group, name: new } => {
                frame(b"REG", [t(trid), group.clone(), name(new), "0".to_owned()])
            }
            NsCommand::Rea { trid, handle, name: friendly } => frame(b"REA", [t(trid), handle.clone(), name(friendly)]),
            NsCommand::Prp { trid, property, value } => {
                frame(b"PRP", [t(trid), property.clone()].into_iter().chain(value.as_deref().map(name)))
            }
            NsCommand::Sbp { trid, contact, property, value } => {
                frame(b"SBP", [t(trid), contact.clone(), property.clone(), name(value)])
            }
            NsCommand::Chg { trid, status, capabilities, object } => frame(
                b"CHG",
                [t(trid), status.code().to_owned()]
                    .into_iter()
                    .chain(capabilities.map(|c| c.to_string()))
                    .chain(object.clone()),
            ),
            NsCommand::Uux { trid, payload } => with_payload(b"UUX", [t(trid)], payload),
            NsCommand::Qry { trid, product, payload } => with_payload(b"QRY", [t(trid), product.clone()], payload),
            NsCommand::Url { trid, service } => frame(b"URL", [t(trid), service.clone()]),
            NsCommand::Gcf { trid, file } => frame(b"GCF", [t(trid), file.clone()]),
            NsCommand::Png => frame(b"PNG", []),
            NsCommand::XfrSb { trid } => frame(b"XFR", [t(trid), "SB".to_owned()]),
            NsCommand::Out => frame(b"OUT", []),
        }
    }

    /// Writes the command for the server.
    pub fn encode(&self, out: &mut bytes::BytesMut) {
        self.to_frame().encode(out)
    }
}

impl SbCommand {
    pub fn to_frame(&self) -> Frame {
        match self {
            SbCommand::Usr { trid, handle, cookie } => {
                frame(b"USR", [trid.to_string(), handle.clone(), cookie.clone()])
            }
            SbCommand::Ans { trid, handle, cookie, session } => {
                frame(b"ANS", [trid.to_string(), handle.clone(), cookie.clone(), session.to_string()])
            }
            SbCommand::Cal { trid, handle } => frame(b"CAL", [trid.to_string(), handle.clone()]),
            SbCommand::Msg { trid, ack, body } => with_payload(b"MSG", [trid.to_string(), ack.code().to_owned()], body),
            SbCommand::Out => frame(b"OUT", []),
        }
    }

    /// Writes the command for the switchboard.
    pub fn encode(&self, out: &mut bytes::BytesMut) {
        self.to_frame().encode(out)
    }
}

impl From<NsCommand> for Frame {
    fn from(command: NsCommand) -> Frame {
        command.to_frame()
    }
}

impl From<SbCommand> for Frame {
    fn from(command: SbCommand) -> Frame {
        command.to_frame()
    }
}
