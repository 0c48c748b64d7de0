//! The body encryption of client datagrams.
//!
//! MyICQ used Phil Karn's DES compiled without the initial and final permutations, so its
//! cipher is `IP(DES_K(FP(P)))` with standard DES and `FP = IP⁻¹`: standard DES from the
//! RustCrypto `des` crate, wrapped in the two permutations. The key is the first 8 bytes of the
//! password, NUL-padded. Bodies are zero-padded to whole blocks and encrypted block by block
//! (ECB). A check code on the plaintext, `(i << 8) | body[i]`, guards the key.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::Des;

const BLOCK: usize = 8;

/// DES's initial permutation: output bit `n` (1 = most significant) is input bit `IP[n-1]`.
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32,
    24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47,
    39, 31, 23, 15, 7,
];

/// The final permutation, derived as the inverse of `IP` rather than typed in twice.
const FP: [u8; 64] = {
    let mut fp = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        fp[IP[i] as usize - 1] = i as u8 + 1;
        i += 1;
    }
    fp
};

fn permute(block: u64, table: &[u8; 64]) -> u64 {
    table.iter().fold(0, |out, &from| (out << 1) | ((block >> (64 - u32::from(from))) & 1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encrypted body is not a whole number of 8-byte blocks")]
    NotBlocks,
    #[error("check code does not match: wrong key or damaged datagram")]
    BadCheckCode,
}

/// The cipher of one session, keyed with its password.
#[derive(Clone)]
pub struct BodyCipher {
    des: Des,
}

impl BodyCipher {
    /// Keys the cipher with `password[0..8]`, NUL-padded (parity bits ignored, as in DES).
    pub fn new(password: &[u8]) -> Self {
        let mut key = [0u8; 8];
        let n = password.len().min(8);
        key[..n].copy_from_slice(&password[..n]);
        BodyCipher { des: Des::new(GenericArray::from_slice(&key)) }
    }

    pub fn encrypt_block(&self, block: [u8; 8]) -> [u8; 8] {
        let mut b = GenericArray::from(permute(u64::from_be_bytes(block), &FP).to_be_bytes());
        self.des.encrypt_block(&mut b);
        permute(u64::from_be_bytes(b.into()), &IP).to_be_bytes()
    }

    pub fn decrypt_block(&self, block: [u8; 8]) -> [u8; 8] {
        let mut b = GenericArray::from(permute(u64::from_be_bytes(block), &FP).to_be_bytes());
        self.des.decrypt_block(&mut b);
        permute(u64::from_be_bytes(b.into()), &IP).to_be_bytes()
    }

    /// Encrypts a plaintext body as a client does: returns the check code for byte `index`
    /// (the client picks it at random below `min(len, 256)`) and the zero-padded ciphertext.
    /// An empty body stays empty with check code 0.
    pub fn seal(&self, plain: &[u8], index: usize) -> (u16, Vec<u8>) {
        if plain.is_empty() {
            return (0, Vec::new());
        }
        let index = index % plain.len().min(256);
        let cc = ((index as u16) << 8) | u16::from(plain[index]);
        let mut body = plain.to_vec();
        body.resize(plain.len().div_ceil(BLOCK) * BLOCK, 0);
        for chunk in body.chunks_exact_mut(BLOCK) {
            let sealed = self.encrypt_block(chunk.try_into().expect("whole block"));
            chunk.copy_from_slice(&sealed);
        }
        (cc, body)
    }

    /// Decrypts a body and checks its check code, as the server does. The result keeps the
    /// zero padding: readers ignore trailing zeros.
    pub fn open(&self, sealed: &[u8], cc: u16) -> Result<Vec<u8>, CryptoError> {
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        if !sealed.len().is_multiple_of(BLOCK) {
            return Err(CryptoError::NotBlocks);
        }
        let mut plain = Vec::with_capacity(sealed.len());
        for chunk in sealed.chunks_exact(BLOCK) {
            plain.extend_from_slice(&self.decrypt_block(chunk.try_into().expect("whole block")));
        }
        let index = usize::from(cc >> 8);
        match plain.get(index) {
            Some(&byte) if u16::from(byte) == cc & 0xff => Ok(plain),
            _ => Err(CryptoError::BadCheckCode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp_undoes_ip() {
        for block in [0u64, 1, 0x0123_4567_89ab_cdef, u64::MAX, 0x8000_0000_0000_0001] {
            assert_eq!(permute(permute(block, &IP), &FP), block);
        }
    }
}
