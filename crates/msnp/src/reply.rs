//! Typed messages the server sends, encoded straight into an output buffer.
//! Friendly names are given as Unicode and URL-encoded here.

use crate::command::{List, PrivacyMode, PromptMode, Trid};
use crate::error_code::ErrorCode;
use crate::status::MsnStatus;
use crate::text::url_encode;
use bytes::{BufMut, BytesMut};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `VER trid dialect`, or `VER trid 0` when no offered dialect is spoken.
    Ver {
        trid: Trid,
        dialect: Option<&'a str>,
    },
    Inf {
        trid: Trid,
        packages: &'a str,
    },
    /// `USR trid MD5 S challenge`.
    UsrChallenge {
        trid: Trid,
        package: &'a str,
        challenge: &'a str,
    },
    UsrOk {
        trid: Trid,
        handle: &'a str,
        friendly: &'a str,
    },
    /// `XFR trid NS address`: log in at another notification server.
    XfrNs {
        trid: Trid,
        address: &'a str,
    },
    /// `XFR trid SB address CKI cookie`.
    XfrSb {
        trid: Trid,
        address: &'a str,
        cookie: &'a str,
    },
    Syn {
        trid: Trid,
        version: u32,
    },
    Gtc {
        trid: Trid,
        version: u32,
        mode: PromptMode,
    },
    Blp {
        trid: Trid,
        version: u32,
        mode: PrivacyMode,
    },
    /// One entry of a list: `LST trid LIST ver i n handle friendly`.
    Lst {
        trid: Trid,
        list: List,
        version: u32,
        index: usize,
        total: usize,
        handle: &'a str,
        friendly: &'a str,
    },
    /// An empty list: `LST trid LIST ver 0 0`.
    LstEmpty {
        trid: Trid,
        list: List,
        version: u32,
    },
    Add {
        trid: Trid,
        list: List,
        version: u32,
        handle: &'a str,
        friendly: &'a str,
    },
    Rem {
        trid: Trid,
        list: List,
        version: u32,
        handle: &'a str,
    },
    Chg {
        trid: Trid,
        status: MsnStatus,
    },
    Iln {
        trid: Trid,
        status: MsnStatus,
        handle: &'a str,
        friendly: &'a str,
    },
    Nln {
        status: MsnStatus,
        handle: &'a str,
        friendly: &'a str,
    },
    Fln {
        handle: &'a str,
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
            Reply::Inf { trid, packages } => write!(w, "INF {trid} {packages}\r\n"),
            Reply::UsrChallenge { trid, package, challenge } => {
                write!(w, "USR {trid} {package} S {challenge}\r\n")
            }
            Reply::UsrOk { trid, handle, friendly } => {
                write!(w, "USR {trid} OK {handle} {}\r\n", url_encode(friendly))
            }
            Reply::XfrNs { trid, address } => write!(w, "XFR {trid} NS {address}\r\n"),
            Reply::XfrSb { trid, address, cookie } => write!(w, "XFR {trid} SB {address} CKI {cookie}\r\n"),
            Reply::Syn { trid, version } => write!(w, "SYN {trid} {version}\r\n"),
            Reply::Gtc { trid, version, mode } => write!(w, "GTC {trid} {version} {}\r\n", mode.code()),
            Reply::Blp { trid, version, mode } => write!(w, "BLP {trid} {version} {}\r\n", mode.code()),
            Reply::Lst { trid, list, version, index, total, handle, friendly } => {
                write!(w, "LST {trid} {} {version} {index} {total} {handle} {}\r\n", list.code(), url_encode(friendly))
            }
            Reply::LstEmpty { trid, list, version } => write!(w, "LST {trid} {} {version} 0 0\r\n", list.code()),
            Reply::Add { trid, list, version, handle, friendly } => {
                write!(w, "ADD {trid} {} {version} {handle} {}\r\n", list.code(), url_encode(friendly))
            }
            Reply::Rem { trid, list, version, handle } => {
                write!(w, "REM {trid} {} {version} {handle}\r\n", list.code())
            }
            Reply::Chg { trid, status } => write!(w, "CHG {trid} {status}\r\n"),
            Reply::Iln { trid, status, handle, friendly } => {
                write!(w, "ILN {trid} {status} {handle} {}\r\n", url_encode(friendly))
            }
            Reply::Nln { status, handle, friendly } => write!(w, "NLN {status} {handle} {}\r\n", url_encode(friendly)),
            Reply::Fln { handle } => write!(w, "FLN {handle}\r\n"),
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

struct LineWriter<'a>(&'a mut BytesMut);

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
                friendly: "Auntie Em"
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
