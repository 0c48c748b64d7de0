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

/// The user lists of draft §5.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum List {
    Forward,
    Allow,
    Block,
    Reverse,
}

impl List {
    pub const ALL: [List; 4] = [List::Forward, List::Allow, List::Block, List::Reverse];

    pub fn code(self) -> &'static str {
        match self {
            List::Forward => "FL",
            List::Allow => "AL",
            List::Block => "BL",
            List::Reverse => "RL",
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

    fn from_code(code: &str) -> Option<Self> {
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

    fn from_code(code: &str) -> Option<Self> {
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
    /// `A`: `ACK` on delivery, `NAK` on failure.
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

/// A command sent to the dispatch or notification role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsCommand {
    Ver {
        trid: Trid,
        dialects: Vec<String>,
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
    Add {
        trid: Trid,
        list: List,
        handle: String,
        name: String,
    },
    Rem {
        trid: Trid,
        list: List,
        handle: String,
    },
    Chg {
        trid: Trid,
        status: MsnStatus,
    },
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

    fn friendly_name(&self, i: usize) -> Result<String, CommandError> {
        decode_friendly_name(self.get(i)).map_err(|e| match e {
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
        let (p, trid) = Params::with_trid(frame)?;
        let command = match frame.verb.as_str() {
            "VER" => {
                p.expect(1, 16)?;
                NsCommand::Ver { trid, dialects: frame.params[1..].to_vec() }
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
                p.expect(1, 1)?;
                NsCommand::Syn { trid, version: p.parse(0, |s| s.parse().ok())? }
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
                p.expect(3, 3)?;
                let list = p.parse(0, List::from_code)?;
                NsCommand::Add { trid, list, handle: p.get(1).to_owned(), name: p.friendly_name(2)? }
            }
            "REM" => {
                p.expect(2, 2)?;
                NsCommand::Rem { trid, list: p.parse(0, List::from_code)?, handle: p.get(1).to_owned() }
            }
            "CHG" => {
                p.expect(1, 1)?;
                NsCommand::Chg { trid, status: p.parse(0, MsnStatus::from_code)? }
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
                    "A" => Some(AckMode::Acknowledged),
                    _ => None,
                })?;
                SbCommand::Msg { trid, ack, body: frame.payload.clone().unwrap_or_default() }
            }
            _ => return Err(unknown(frame)),
        };
        Ok(command)
    }
}
