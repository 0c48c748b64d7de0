//! `CHL`/`QRY` (MSNP6+): the server sends a challenge, the client proves it is a licensed
//! client by answering with a digest of the challenge and its product key. MSNP6–10 use
//! `md5hex(challenge + key)`; MSNP11 and later a keyed hash over challenge and product id.

use crate::auth::to_hex;
use md5::{Digest, Md5};

/// How a product's answer is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// MSNP6–MSNP10.
    Md5,
    /// MSNP11 and later.
    Msnp11,
}

/// A client product: its public id (sent in `QRY`), its private key and answer scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub id: &'static str,
    pub key: &'static str,
    pub scheme: Scheme,
}

const fn product(id: &'static str, key: &'static str, scheme: Scheme) -> Product {
    Product { id, key, scheme }
}

/// The product ids and keys clients of MSNP6–MSNP12 are known to use (`protocols/msnp.md` §4.1).
pub const PRODUCTS: &[Product] = &[
    product("msmsgs@msnmsgr.com", "Q1P7W2E4J9R8U3S5", Scheme::Md5),
    product("PROD0038W!61ZTF9", "VT6PX?UQTM4WM%YR", Scheme::Md5),
    product("PROD0058#7IL2{QD", "QHDCY@7R1TB6W?5B", Scheme::Md5),
    product("PROD0061VRRZH@4F", "JXQ6J@TUOGYV@N0M", Scheme::Md5),
    product("PROD00504RLUG%WL", "I2EBK%PYNLZL5_J4", Scheme::Md5),
    product("PROD0076ENE8*@AW", "CEQJ8}OE0!WTSWII", Scheme::Md5),
    product("PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL", Scheme::Msnp11),
    product("PROD00974#MT*RC2", "LMCVO*18PQJ3H!K3", Scheme::Msnp11),
    product("PROD0101{0RM?UBW", "CFHUR$52U_{VIX5T", Scheme::Msnp11),
    product("PROD0104U6VVM{UJ", "VK67B}379XYM5}$T", Scheme::Msnp11),
    product("PROD01065C%ZFN6F", "O4BG@C7BWLYQX?5G", Scheme::Msnp11),
];

pub fn product_by_id(id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.id == id)
}

fn md5(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// The MSNP6–10 answer: `md5hex(challenge + key)`.
pub fn md5_answer(challenge: &str, key: &str) -> String {
    to_hex(&md5(&[challenge, key]))
}

/// The MSNP11 answer.
pub fn msnp11_answer(challenge: &str, id: &str, key: &str) -> String {
    const MODULUS: u64 = 0x7FFF_FFFF;
    let digest = md5(&[challenge, key]);
    let raw: [u32; 4] = std::array::from_fn(|i| u32::from_le_bytes(digest[i * 4..i * 4 + 4].try_into().unwrap()));
    let m = raw.map(|word| u64::from(word & 0x7FFF_FFFF));

    let mut text = format!("{challenge}{id}").into_bytes();
    text.resize(text.len().div_ceil(8) * 8, b'0');
    let words: Vec<u64> = text.chunks_exact(4).map(|c| u64::from(u32::from_le_bytes(c.try_into().unwrap()))).collect();

    let (mut high, mut low) = (0u64, 0u64);
    for pair in words.chunks_exact(2) {
        let t = (0x0E79_A9C1 * pair[0]) % MODULUS;
        let t = (m[0] * (t + high) + m[1]) % MODULUS;
        high = ((pair[1] + t) % MODULUS * m[2] + m[3]) % MODULUS;
        low += t + high;
    }
    let high = ((high + m[1]) % MODULUS) as u32;
    let low = ((low + m[3]) % MODULUS) as u32;
    let answer = [raw[0] ^ high, raw[1] ^ low, raw[2] ^ high, raw[3] ^ low];
    to_hex(&answer.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>())
}

/// Checks a `QRY`: the product must be known, of the dialect's scheme, and the digest right
/// (hex of either case).
pub fn verify(challenge: &str, product_id: &str, answer: &str, scheme: Scheme) -> bool {
    let Some(product) = product_by_id(product_id).filter(|p| p.scheme == scheme) else { return false };
    let expected = match product.scheme {
        Scheme::Md5 => md5_answer(challenge, product.key),
        Scheme::Msnp11 => msnp11_answer(challenge, product.id, product.key),
    };
    expected.eq_ignore_ascii_case(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors() {
        let key = product_by_id("msmsgs@msnmsgr.com").unwrap().key;
        assert_eq!(md5_answer("15570131571988941333", key), "8f2f5a91b72102cd28355e9fc9000d6e");
        assert_eq!(md5_answer("11111111111111111111", key), "3b6666b60157322b6fc6e41a115968f5");
        assert_eq!(md5_answer("12345678901234567890", key), "8ba1bb9d6dbf624fee31a2053af5fdd0");
    }

    #[test]
    fn msnp11_vector() {
        let answer = msnp11_answer("22210219642164014968", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL");
        assert_eq!(answer, "85ecb0db8f32113df79ce0892b9a102c");
    }

    #[test]
    fn verification_needs_a_known_product_and_the_right_digest() {
        let msnp11 = Scheme::Msnp11;
        assert!(verify("22210219642164014968", "PROD0090YUAUV{2B", "85ECB0DB8F32113DF79CE0892B9A102C", msnp11));
        assert!(!verify("22210219642164014968", "PROD0090YUAUV{2B", "85ecb05b8f32113df79ce0892b9a102c", msnp11));
        assert!(verify("15570131571988941333", "msmsgs@msnmsgr.com", "8f2f5a91b72102cd28355e9fc9000d6e", Scheme::Md5));
        assert!(!verify("15570131571988941333", "msmsgs@msnmsgr.com", "8f2f5a91b72102cd28355e9fc9000d6e", msnp11));
        assert!(!verify("15570131571988941333", "someone@else", "8f2f5a91b72102cd28355e9fc9000d6e", Scheme::Md5));
    }
}
