//! The two 20-byte headers. Every integer is big-endian.

pub const HEADER_LEN: usize = 20;
/// `MYICQ_UDP_VER`.
pub const VERSION: u16 = 1;

/// Client → server: `ver, reserved(4), uin, sid, cmd, seq, cc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHeader {
    pub ver: u16,
    pub uin: u32,
    pub sid: u32,
    pub cmd: u16,
    /// The packet's sequence number; for an ACK, the sequence acknowledged.
    pub seq: u16,
    /// Check code of an encrypted body (see [`crate::crypto`]); 0 for empty or plain bodies.
    pub cc: u16,
}

/// Server → client: `ver, reserved(4), uin, sid, cmd, seq, ackseq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHeader {
    pub ver: u16,
    pub uin: u32,
    pub sid: u32,
    pub cmd: u16,
    /// The server's sequence number; 0 makes the packet a pure ACK.
    pub seq: u16,
    /// The client sequence this packet acknowledges, or 0.
    pub ackseq: u16,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The common layout: both headers differ only in the meaning of their last word.
fn parse(datagram: &[u8]) -> Option<(u16, u32, u32, u16, u16, u16)> {
    let b = datagram.get(..HEADER_LEN)?;
    Some((u16_at(b, 0), u32_at(b, 6), u32_at(b, 10), u16_at(b, 14), u16_at(b, 16), u16_at(b, 18)))
}

fn write(out: &mut Vec<u8>, (ver, uin, sid, cmd, seq, last): (u16, u32, u32, u16, u16, u16)) {
    out.extend_from_slice(&ver.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&uin.to_be_bytes());
    out.extend_from_slice(&sid.to_be_bytes());
    out.extend_from_slice(&cmd.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&last.to_be_bytes());
}

impl ClientHeader {
    /// `None` when the datagram is shorter than a header.
    pub fn parse(datagram: &[u8]) -> Option<ClientHeader> {
        let (ver, uin, sid, cmd, seq, cc) = parse(datagram)?;
        Some(ClientHeader { ver, uin, sid, cmd, seq, cc })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        write(out, (self.ver, self.uin, self.sid, self.cmd, self.seq, self.cc));
    }
}

impl ServerHeader {
    pub fn parse(datagram: &[u8]) -> Option<ServerHeader> {
        let (ver, uin, sid, cmd, seq, ackseq) = parse(datagram)?;
        Some(ServerHeader { ver, uin, sid, cmd, seq, ackseq })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        write(out, (self.ver, self.uin, self.sid, self.cmd, self.seq, self.ackseq));
    }
}
