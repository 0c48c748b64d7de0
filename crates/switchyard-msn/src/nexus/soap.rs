//! The SOAP of `POST /RST.srf` (`RequestMultipleSecurityTokens`, MSN 7.5 and msn-pecan): the
//! credentials and the addresses a token is asked for are read with a streaming XML parser in
//! one pass over the body, and the answer is written as the service wrote it.

use crate::xml;
use quick_xml::events::Event;
use quick_xml::Reader;

/// What a `RequestMultipleSecurityTokens` asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub username: Option<String>,
    pub password: Option<String>,
    /// The `Address` of every token asked for, in order.
    pub addresses: Vec<String>,
}

/// At most this many tokens are answered (clients ask for three to seven).
const MAX_ADDRESSES: usize = 16;

impl TokenRequest {
    /// Reads the request; `None` when the body is not well-formed XML.
    pub fn parse(body: &str) -> Option<TokenRequest> {
        let mut reader = Reader::from_str(body);
        let mut request = TokenRequest::default();
        // The local name of the innermost open element whose text is wanted, and its text.
        let mut wanted: Option<(Field, String)> = None;
        loop {
            match reader.read_event().ok()? {
                Event::Start(start) => {
                    wanted = Field::of(start.local_name().as_ref()).map(|field| (field, String::new()));
                }
                Event::Text(text) => {
                    if let Some((_, value)) = &mut wanted {
                        value.push_str(&text.decode().ok()?);
                    }
                }
                Event::GeneralRef(reference) => {
                    if let Some((_, value)) = &mut wanted {
                        let name = reference.decode().ok()?;
                        value.push_str(&quick_xml::escape::unescape(&format!("&{name};")).ok()?);
                    }
                }
                Event::CData(data) => {
                    if let Some((_, value)) = &mut wanted {
                        value.push_str(&data.decode().ok()?);
                    }
                }
                Event::End(_) => {
                    if let Some((field, value)) = wanted.take() {
                        request.set(field, value);
                    }
                }
                Event::Eof => return Some(request),
                _ => {}
            }
        }
    }

    fn set(&mut self, field: Field, value: String) {
        match field {
            Field::Username => {
                self.username.get_or_insert(value);
            }
            Field::Password => {
                self.password.get_or_insert(value);
            }
            Field::Address if self.addresses.len() < MAX_ADDRESSES => self.addresses.push(value),
            Field::Address => {}
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Username,
    Password,
    Address,
}

impl Field {
    fn of(local_name: &[u8]) -> Option<Field> {
        match local_name {
            b"Username" => Some(Field::Username),
            b"Password" => Some(Field::Password),
            b"Address" => Some(Field::Address),
            _ => None,
        }
    }
}

pub fn fault() -> String {
    concat!(
        r#"<?xml version="1.0" encoding="utf-8" ?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" "#,
        r#"xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext"><S:Body><S:Fault>"#,
        r#"<faultcode>wsse:FailedAuthentication</faultcode><faultstring>Authentication Failure</faultstring>"#,
        r#"</S:Fault></S:Body></S:Envelope>"#
    )
    .to_owned()
}

/// One `RequestSecurityTokenResponse` per address the client asked a token for, numbered
/// `PPToken0`, `PPToken1`, … in the order asked (msn-pecan takes `PPToken1` as the one for
/// messenger.msn.com, its second request).
pub fn token_collection(addresses: &[String], ticket: &str) -> String {
    let mut responses = String::new();
    for (i, address) in addresses.iter().enumerate() {
        responses.push_str(&format!(
            "<wst:RequestSecurityTokenResponse><wst:TokenType>urn:passport:compact</wst:TokenType>\
             <wsp:AppliesTo><wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
             <wst:RequestedSecurityToken><wsse:BinarySecurityToken Id=\"PPToken{i}\">{}</wsse:BinarySecurityToken>\
             </wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse>",
            xml::escape(address),
            xml::escape(ticket),
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\" xmlns:wst=\"http://schemas.xmlsoap.org/ws/2004/04/trust\" \
         xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2002/12/policy\" xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/03/addressing\" \
         xmlns:psf=\"http://schemas.microsoft.com/Passport/SoapServices/SOAPFault\"><S:Body>\
         <wst:RequestSecurityTokenResponseCollection>{responses}</wst:RequestSecurityTokenResponseCollection>\
         </S:Body></S:Envelope>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_addresses_are_read_whatever_the_prefix() {
        let body = "<Envelope><Header><wsse:UsernameToken Id=\"user\"><wsse:Username>bob@hotmail.com</wsse:Username>\
                    <wsse:Password>a&amp;b&lt;&#33;</wsse:Password></wsse:UsernameToken></Header><Body>\
                    <wsa:Address>http://Passport.NET/tb</wsa:Address><Address>messenger.msn.com</Address></Body></Envelope>";
        let request = TokenRequest::parse(body).unwrap();
        assert_eq!(request.username.as_deref(), Some("bob@hotmail.com"));
        assert_eq!(request.password.as_deref(), Some("a&b<!"));
        assert_eq!(request.addresses, vec!["http://Passport.NET/tb", "messenger.msn.com"]);
        let reply = token_collection(&request.addresses, "t=x&p=y");
        assert!(reply.contains("<wsa:Address>messenger.msn.com</wsa:Address>"));
        assert!(reply.contains("<wsse:BinarySecurityToken Id=\"PPToken1\">t=x&amp;p=y</wsse:BinarySecurityToken>"));
    }

    #[test]
    fn malformed_or_empty_requests_have_no_credentials() {
        assert_eq!(TokenRequest::parse("<a><b></a>"), None);
        assert_eq!(TokenRequest::parse("no xml at all").unwrap(), TokenRequest::default());
        let nested = "<Username><x>no</x></Username>";
        assert_eq!(TokenRequest::parse(nested).unwrap().username, None);
    }

    #[test]
    fn a_body_of_many_tags_is_read_in_one_pass() {
        // The old search rescanned the body for every tag: quadratic in the number of tags.
        let mut body = String::from("<Envelope><Username>a</Username><Password>b</Password>");
        for _ in 0..5_000 {
            body.push_str("<wsa:Address>x</wsa:Address><y/>");
        }
        body.push_str("</Envelope>");
        let request = TokenRequest::parse(&body).unwrap();
        assert_eq!(request.addresses.len(), MAX_ADDRESSES);
        assert_eq!(request.password.as_deref(), Some("b"));
    }
}
