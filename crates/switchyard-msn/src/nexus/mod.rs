//! The Passport nexus MSNP8+ clients log in through before `USR TWN S`:
//!
//! * `GET /rdr/pprdr.asp` names the login URL in `PassportURLs: DALogin=…,…`;
//! * `GET /login2.srf` (also `/login.srf`) with `Authorization: Passport1.4 …,sign-in=…,pwd=…`
//!   answers with a ticket in `Authentication-Info: … from-PP='t=…&p=…'`, or 401 with
//!   `da-status=failed`;
//! * `POST /RST.srf`, the SOAP `RequestMultipleSecurityTokens` of MSN 7.5-era clients, answers
//!   with the ticket as the `BinarySecurityToken` of every address asked for.
//!
//! Requests and responses go through [`http1`], which writes them as the service did.

pub mod http1;
mod soap;

use crate::passport::{Passport, Refusal};
use crate::Domains;
use http1::{RequestHead, Response, Status};
use percent_encoding::percent_decode_str;
use std::net::SocketAddr;
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
    /// `{host}` for requests that name no `Host` (Pidgin 2.2 sends none); without it, the
    /// address the client connected to.
    pub public_host: Option<String>,
}

/// The rest of the `PassportURLs` field after `DALogin`, as the service sent it.
const PASSPORT_URLS_REST: &str = "DARealm=Passport.Net,DAReg=http://register.passport.net/uixpwiz.srf,\
    Properties=https://register.passport.net/editprof.srf,Privacy=http://www.passport.com/consumer/privacypolicy.asp,\
    GeneralRedir=http://nexusrdr.passport.com/redir.asp,Help=http://memberservices.passport.net/memberservice.srf,\
    ConfigVersion=11";

impl Nexus {
    /// Whether a request for `path` is the nexus's. A login path may run on into the rest of
    /// the `PassportURLs` field (`/login2.srf,DARealm=…`): clients that strip `DALogin=` from
    /// the whole field and use what is left, as msnp11-sdk does, ask for that.
    pub fn serves(path: &str) -> bool {
        path == "/rdr/pprdr.asp" || path == "/RST.srf" || login_path(path)
    }

    /// Answers one request from `peer`; `local` is the address the client connected to.
    pub async fn answer(&self, head: &RequestHead, body: &[u8], local: SocketAddr, peer: SocketAddr) -> Response {
        match (head.method.as_str(), head.path.as_str()) {
            ("GET", "/rdr/pprdr.asp") => self.passport_urls(head, local),
            ("GET", path) if login_path(path) => self.passport_login(head, peer).await,
            ("POST", "/RST.srf") => self.security_tokens(body, peer).await,
            _ => Response::new(Status::NotFound),
        }
    }

    fn passport_urls(&self, head: &RequestHead, local: SocketAddr) -> Response {
        let host = match (head.header("Host"), &self.public_host) {
            (Some(host), _) => host.to_owned(),
            (None, Some(public)) => public.clone(),
            (None, None) => local.to_string(),
        };
        let da_login = self.da_login.as_deref().unwrap_or("{host}/login2.srf").replace("{host}", &host);
        // DALogin leads: some clients strip "DALogin=" from the whole field and use the rest
        // (which `serves` accepts as a login path); those that split at commas find it anyway.
        Response::new(Status::Ok)
            .header("PassportURLs", format!("DALogin={da_login},{PASSPORT_URLS_REST}"))
            .header("Cache-control", "private")
    }

    async fn passport_login(&self, head: &RequestHead, peer: SocketAddr) -> Response {
        let Some((handle, password)) = head.header("Authorization").and_then(passport14_credentials) else {
            tracing::info!("Passport1.4 login without credentials");
            return failed_login();
        };
        match self.passport.sign_in(&self.core, &self.domains, peer.ip(), &handle, &password).await {
            // The ticket goes last: some clients take everything after `from-PP='` as the ticket.
            Ok(ticket) => Response::new(Status::Ok).header("PPServer", "H: SWITCHYARD V: 0").header(
                "Authentication-Info",
                format!(
                    "Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,\
                     ru=http://messenger.msn.com,from-PP='{ticket}'"
                ),
            ),
            Err(Refusal::BadCredentials) => {
                tracing::info!(%handle, "Passport login failed");
                failed_login()
            }
            Err(Refusal::Unavailable) => Response::new(Status::ServiceUnavailable),
        }
    }

    async fn security_tokens(&self, body: &[u8], peer: SocketAddr) -> Response {
        let request = std::str::from_utf8(body).ok().and_then(soap::TokenRequest::parse).unwrap_or_default();
        let (Some(handle), Some(password)) = (request.username, request.password) else {
            tracing::info!("RequestMultipleSecurityTokens without credentials");
            return soap_response(soap::fault());
        };
        match self.passport.sign_in(&self.core, &self.domains, peer.ip(), &handle, &password).await {
            Ok(ticket) => soap_response(soap::token_collection(&request.addresses, &ticket)),
            Err(Refusal::BadCredentials) => {
                tracing::info!(%handle, "Passport SOAP login failed");
                soap_response(soap::fault())
            }
            Err(Refusal::Unavailable) => Response::new(Status::ServiceUnavailable),
        }
    }
}

fn login_path(path: &str) -> bool {
    ["/login2.srf", "/login.srf"]
        .iter()
        .any(|login| path.strip_prefix(login).is_some_and(|rest| rest.is_empty() || rest.starts_with(',')))
}

fn failed_login() -> Response {
    Response::new(Status::Unauthorized).header("PPServer", "H: SWITCHYARD V: 0").header(
        "WWW-Authenticate",
        "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt,cburl=http://messenger.msn.com,\
         cbtxt=Sign%20in%20failed",
    )
}

fn soap_response(body: String) -> Response {
    Response::new(Status::Ok).body("text/xml; charset=utf-8", body)
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
    fn login_paths_may_carry_the_rest_of_the_passport_urls() {
        assert!(Nexus::serves("/login2.srf"));
        assert!(Nexus::serves("/login.srf"));
        assert!(Nexus::serves("/login2.srf,DARealm=Passport.Net,DAReg=http://register.passport.net/uixpwiz.srf"));
        assert!(!Nexus::serves("/login2.srfx"));
        assert!(!Nexus::serves("/"));
        assert!(Nexus::serves("/rdr/pprdr.asp") && Nexus::serves("/RST.srf"));
    }
}
