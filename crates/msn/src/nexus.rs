//! The Passport nexus MSNP8+ clients log in through before `USR TWN S`:
//!
//! * `GET /rdr/pprdr.asp` names the login URL in `PassportURLs: DALogin=…`;
//! * `GET /login2.srf` (also `/login.srf`) with `Authorization: Passport1.4 …,sign-in=…,pwd=…`
//!   answers with a ticket in `Authentication-Info: … from-PP='t=…&p=…'`, or 401 with
//!   `da-status=failed`;
//! * `POST /RST.srf`, the SOAP `RequestMultipleSecurityTokens` of MSN 7.5-era clients, answers
//!   with the ticket as the `BinarySecurityToken` of every address asked for.

use crate::passport::{Passport, Refusal};
use crate::xml;
use crate::Domains;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::percent_decode_str;
use std::sync::Arc;
use switchyard_core::Core;

/// What the nexus needs: the accounts, the handle syntax, and the tickets it shares with the
/// notification servers.
pub struct Nexus {
    pub core: Core,
    pub domains: Domains,
    pub passport: Arc<Passport>,
    /// The `DALogin` value, where `{host}` stands for the host the client asked for. Official
    /// clients prefix `https://` themselves, so the default is `{host}/login2.srf` without a
    /// scheme; `http://{host}/login2.srf` serves clients that would otherwise insist on HTTPS.
    pub da_login: Option<String>,
}

pub fn router(nexus: Nexus) -> Router {
    Router::new()
        .route("/rdr/pprdr.asp", get(passport_urls))
        .route("/login2.srf", get(passport_login))
        .route("/login.srf", get(passport_login))
        .route("/RST.srf", post(security_tokens))
        .with_state(Arc::new(nexus))
}

async fn passport_urls(State(nexus): State<Arc<Nexus>>, headers: HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let da_login = nexus.da_login.as_deref().unwrap_or("{host}/login2.srf").replace("{host}", host);
    // Only DALogin: some clients strip "DALogin=" from the whole header and use the rest.
    with_header(StatusCode::OK, "PassportURLs", &format!("DALogin={da_login}"), String::new())
}

async fn passport_login(State(nexus): State<Arc<Nexus>>, headers: HeaderMap) -> Response {
    let credentials = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(passport14_credentials);
    let Some((handle, password)) = credentials else {
        tracing::info!("Passport1.4 login without credentials");
        return failed_login();
    };
    match nexus.passport.sign_in(&nexus.core, &nexus.domains, &handle, &password).await {
        Ok(ticket) => {
            // The ticket goes last: some clients take everything after `from-PP='` as the ticket.
            let info = format!(
                "Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,ru=http://messenger.msn.com,\
                 from-PP='{ticket}'"
            );
            with_header(StatusCode::OK, "Authentication-Info", &info, String::new())
        }
        Err(Refusal::BadCredentials) => {
            tracing::info!(%handle, "Passport login failed");
            failed_login()
        }
        Err(Refusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn failed_login() -> Response {
    let challenge = "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt,cburl=http://messenger.msn.com,\
                     cbtxt=Sign%20in%20failed";
    with_header(StatusCode::UNAUTHORIZED, "WWW-Authenticate", challenge, String::new())
}

fn with_header(status: StatusCode, name: &'static str, value: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// `sign-in` and `pwd` of a `Passport1.4` authorization, URL-decoded.
fn passport14_credentials(authorization: &str) -> Option<(String, String)> {
    let fields = authorization.strip_prefix("Passport1.4")?.trim_start();
    let field = |name: &str| {
        fields
            .split(',')
            .find_map(|f| f.trim().strip_prefix(name))
            .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned())
    };
    Some((field("sign-in=")?, field("pwd=")?))
}

async fn security_tokens(State(nexus): State<Arc<Nexus>>, body: String) -> Response {
    let (Some(handle), Some(password)) = (element_text(&body, "Username"), element_text(&body, "Password")) else {
        tracing::info!("RequestMultipleSecurityTokens without credentials");
        return soap(soap_fault());
    };
    match nexus.passport.sign_in(&nexus.core, &nexus.domains, &handle, &password).await {
        Ok(ticket) => {
            let addresses = all_element_texts(&body, "Address");
            soap(token_collection(&addresses, &ticket))
        }
        Err(Refusal::BadCredentials) => {
            tracing::info!(%handle, "Passport SOAP login failed");
            soap(soap_fault())
        }
        Err(Refusal::Unavailable) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn soap(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn soap_fault() -> String {
    concat!(
        r#"<?xml version="1.0" encoding="utf-8" ?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" "#,
        r#"xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext"><S:Body><S:Fault>"#,
        r#"<faultcode>wsse:FailedAuthentication</faultcode><faultstring>Authentication Failure</faultstring>"#,
        r#"</S:Fault></S:Body></S:Envelope>"#
    )
    .to_owned()
}

/// One `RequestSecurityTokenResponse` per address the client asked a token for.
fn token_collection(addresses: &[String], ticket: &str) -> String {
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

/// The text of the first element with this local name, whatever its namespace prefix.
fn element_text(xml: &str, name: &str) -> Option<String> {
    all_element_texts(xml, name).into_iter().next()
}

/// The texts of every element with this local name (`<x:Name …>text</x:Name>`), unescaped.
fn all_element_texts(xml: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        let tag_name = tag.split([' ', '/']).next().unwrap_or("");
        let local = tag_name.rsplit(':').next().unwrap_or("");
        if local == name && !tag.starts_with('/') && !tag.ends_with('/') {
            let body = &rest[end + 1..];
            if let Some(close) = body.find(&format!("</{tag_name}>")) {
                found.push(xml::unescape(&body[..close]));
            }
        }
        rest = &rest[end + 1..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passport14_fields_are_found_and_decoded() {
        let header = "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,\
                      sign-in=bob%40hotmail.com,pwd=p%2Cw,lc=1033,id=507";
        assert_eq!(passport14_credentials(header), Some(("bob@hotmail.com".into(), "p,w".into())));
        assert_eq!(passport14_credentials("Basic abc"), None);
        assert_eq!(passport14_credentials("Passport1.4 sign-in=a@b.c"), None);
    }

    #[test]
    fn soap_credentials_and_addresses_are_read_whatever_the_prefix() {
        let body = "<Envelope><Header><wsse:UsernameToken Id=\"user\"><wsse:Username>bob@hotmail.com</wsse:Username>\
                    <wsse:Password>a&amp;b</wsse:Password></wsse:UsernameToken></Header><Body>\
                    <wsa:Address>http://Passport.NET/tb</wsa:Address><Address>messenger.msn.com</Address></Body></Envelope>";
        assert_eq!(element_text(body, "Username").as_deref(), Some("bob@hotmail.com"));
        assert_eq!(element_text(body, "Password").as_deref(), Some("a&b"));
        assert_eq!(all_element_texts(body, "Address"), vec!["http://Passport.NET/tb", "messenger.msn.com"]);
        let reply = token_collection(&all_element_texts(body, "Address"), "t=x&p=y");
        assert!(reply.contains("<wsa:Address>messenger.msn.com</wsa:Address>"));
        assert!(reply.contains("<wsse:BinarySecurityToken Id=\"PPToken1\">t=x&amp;p=y</wsse:BinarySecurityToken>"));
    }
}
