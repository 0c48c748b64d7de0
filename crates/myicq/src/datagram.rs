//! Whole datagrams: size checks on what arrives, assembly of what leaves.

use crate::codes::cmd;
use crate::crypto::BodyCipher;
use crate::header::{ClientHeader, ServerHeader, HEADER_LEN, VERSION};

/// The original server's buffer (`UDP_PACKET_SIZE`): nothing longer is read or written.
pub const MAX_DATAGRAM: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    #[error("shorter than a header")]
    TooShort,
    #[error("longer than {MAX_DATAGRAM} bytes")]
    TooLong,
    #[error("protocol version {0}, not 1")]
    BadVersion(u16),
}

/// Splits a client datagram into header and (still encrypted) body.
pub fn split_client(datagram: &[u8]) -> Result<(ClientHeader, &[u8]), DatagramError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(DatagramError::TooLong);
    }
    let header = ClientHeader::parse(datagram).ok_or(DatagramError::TooShort)?;
    if header.ver != VERSION {
        return Err(DatagramError::BadVersion(header.ver));
    }
    Ok((header, &datagram[HEADER_LEN..]))
}

/// A server datagram: header and plain body.
pub fn server_datagram(header: &ServerHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    header.encode(&mut out);
    out.extend_from_slice(body);
    out
}

/// A client datagram as clients build it: the body sealed with `cipher` unless the command is
/// sent in clear (`NEW_UIN`, `LOGIN`) or the body is empty. `index` picks the check-code byte.
pub fn client_datagram(header: ClientHeader, body: &[u8], cipher: &BodyCipher, index: usize) -> Vec<u8> {
    let (cc, body) = if cmd::is_plain(header.cmd) { (0, body.to_vec()) } else { cipher.seal(body, index) };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    ClientHeader { cc, ..header }.encode(&mut out);
    out.extend_from_slice(&body);
    out
}
