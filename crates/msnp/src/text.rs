//! Text on the wire: URL-encoded UTF-8 friendly names, and the syntax of user handles.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use std::borrow::Cow;

/// Longest URL-encoded friendly name the service accepted (draft §5.5).
pub const MAX_ENCODED_FRIENDLY_NAME: usize = 387;
/// Longest user handle (draft §5.4).
pub const MAX_HANDLE: usize = 129;

/// Characters that cannot appear raw in a parameter: controls, space, `%` itself; everything
/// outside ASCII is always encoded by `utf8_percent_encode`.
const PARAM_UNSAFE: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// URL-encodes a Unicode string into one whitespace-free parameter.
pub fn url_encode(text: &str) -> Cow<'_, str> {
    utf8_percent_encode(text, PARAM_UNSAFE).into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("friendly name longer than {MAX_ENCODED_FRIENDLY_NAME} encoded bytes")]
    TooLong,
    #[error("friendly name is not URL-encoded UTF-8")]
    NotUtf8,
}

/// Decodes a URL-encoded friendly name, enforcing the length limit on the encoded form.
pub fn decode_friendly_name(param: &str) -> Result<String, NameError> {
    if param.len() > MAX_ENCODED_FRIENDLY_NAME {
        return Err(NameError::TooLong);
    }
    let decoded = percent_decode_str(param).decode_utf8().map_err(|_| NameError::NotUtf8)?;
    Ok(decoded.into_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("handle has no domain")]
    MissingDomain,
    #[error("handle is not an e-mail style address")]
    Malformed,
}

/// A syntactically valid handle, split at its `@`, lower-cased (handles are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    pub local: String,
    pub domain: String,
}

impl Handle {
    pub fn parse(text: &str) -> Result<Handle, HandleError> {
        if text.len() > MAX_HANDLE {
            return Err(HandleError::Malformed);
        }
        let (local, domain) = text.split_once('@').ok_or(HandleError::Malformed)?;
        if domain.is_empty() {
            return Err(HandleError::MissingDomain);
        }
        let local_ok = !local.is_empty() && local.bytes().all(is_local_part_byte);
        let labels_ok =
            domain.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !local_ok || !labels_ok || !domain.contains('.') {
            return Err(HandleError::Malformed);
        }
        Ok(Handle { local: local.to_ascii_lowercase(), domain: domain.to_ascii_lowercase() })
    }
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

fn is_local_part_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-+".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_spaces_percent_and_non_ascii() {
        assert_eq!(url_encode("Auntie Em"), "Auntie%20Em");
        assert_eq!(url_encode("100%"), "100%25");
        assert_eq!(url_encode("宋"), "%E5%AE%8B");
    }

    #[test]
    fn decodes_and_limits_names() {
        assert_eq!(decode_friendly_name("%E5%AE%8B%20x").unwrap(), "宋 x");
        assert_eq!(decode_friendly_name("%FF"), Err(NameError::NotUtf8));
        assert_eq!(decode_friendly_name(&"a".repeat(388)), Err(NameError::TooLong));
        assert!(decode_friendly_name(&"a".repeat(387)).is_ok());
    }

    #[test]
    fn handle_syntax() {
        assert_eq!(Handle::parse("Bob@Hotmail.com").unwrap().to_string(), "bob@hotmail.com");
        assert_eq!(Handle::parse("bob@"), Err(HandleError::MissingDomain));
        assert_eq!(Handle::parse("bob"), Err(HandleError::Malformed));
        assert_eq!(Handle::parse("a@b"), Err(HandleError::Malformed));
        assert_eq!(Handle::parse("aaa@bbb@ccc"), Err(HandleError::Malformed));
        assert_eq!(Handle::parse("@@a"), Err(HandleError::Malformed));
        assert_eq!(Handle::parse(&format!("{}@hotmail.com", "a".repeat(130))), Err(HandleError::Malformed));
    }
}
