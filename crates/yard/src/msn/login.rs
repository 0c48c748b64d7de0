//! Logging in to a notification server in any dialect it speaks: `VER`, `CVR` (MSNP8+), then
//! `USR MD5` (MSNP2–7) or `USR TWN` with a ticket from the Passport nexus (MSNP8+), following
//! a dispatch server's `XFR NS`.

use super::{Line, Lines};
use crate::{Account, Error, Options};
use md5::{Digest, Md5};
use msnp::command::AuthStage;
use msnp::dialect::LoginScheme;
use msnp::{Dialect, NsCommand, ServerMessage};
use tokio::time::Instant;

/// How a login ended: logged in, or sent to another notification server.
pub(super) enum Login {
    Done,
    ReferredTo(String),
}

/// The `CVR` client line yard sends (locale, OS, architecture, client library and version).
const CVR: &str = "0x0409 linux 6 x86_64 yard 0.1 msmsgs";

pub(super) async fn log_in(
    ns: &mut Line,
    account: &Account,
    dialect: Dialect,
    options: &Options,
    deadline: Instant,
) -> Result<Login, Error> {
    let wanted = dialect.to_string();
    ns.send(NsCommand::Ver { trid: 1, dialects: vec![wanted.clone(), "CVR0".into()] }).await?;
    match ns.expect(deadline).await? {
        ServerMessage::Ver { dialect: Some(spoken), .. } if spoken == wanted => {}
        other => return Err(Error::Protocol(format!("the server does not speak {wanted}: {other:?}"))),
    }
    if dialect.number() >= 8 {
        // As MSN Messenger 5+ did; the answer only recommends versions.
        let client = format!("{CVR} {}", account.handle);
        ns.send(NsCommand::Cvr { trid: 2, client }).await?;
        ns.expect(deadline).await?;
    }
    let scheme = dialect.login();
    let package = scheme.package().to_owned();
    let initiate =
        NsCommand::Usr { trid: 3, package: package.clone(), stage: AuthStage::Initiate, value: account.handle.clone() };
    ns.send(initiate).await?;
    let challenge = match ns.expect(deadline).await? {
        ServerMessage::XfrNs { address, .. } => return Ok(Login::ReferredTo(address)),
        ServerMessage::UsrChallenge { challenge, .. } => challenge,
        other => return Err(Error::LoginRefused(super::refusal(&other))),
    };
    let proof = match scheme {
        LoginScheme::Md5 => md5_response(&challenge, &account.password),
        LoginScheme::Tweener => nexus_ticket(account, options, &challenge).await?,
    };
    ns.send(NsCommand::Usr { trid: 4, package, stage: AuthStage::Subsequent, value: proof }).await?;
    match ns.expect(deadline).await? {
        ServerMessage::UsrOk { .. } => Ok(Login::Done),
        other => Err(Error::LoginRefused(super::refusal(&other))),
    }
}

/// MSNP2–7: the hex MD5 of the challenge followed by the password.
fn md5_response(challenge: &str, password: &str) -> String {
    Md5::new().chain_update(challenge).chain_update(password).finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// MSNP8+: a ticket from the Passport nexus, as MSN Messenger got one: `PassportURLs` from
/// `/rdr/pprdr.asp` names the login URL (`DALogin`, without a scheme), which answers a
/// `Passport1.4` authorization carrying the server's policy with the ticket in
/// `Authentication-Info: … from-PP='…'`.
async fn nexus_ticket(account: &Account, options: &Options, policy: &str) -> Result<String, Error> {
    let nexus = match &options.nexus {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => default_nexus(&account.server),
    };
    let unreachable = |e: reqwest::Error| Error::Unreachable(format!("the Passport nexus at {nexus}: {e}"));
    let client = http_client(options)?;
    let urls = client.get(format!("{nexus}/rdr/pprdr.asp")).send().await.map_err(unreachable)?;
    let urls = header(&urls, "PassportURLs")?;
    let da_login = urls
        .split(',')
        .find_map(|field| field.trim().strip_prefix("DALogin="))
        .ok_or_else(|| Error::Protocol(format!("the nexus names no DALogin: {urls}")))?;
    // Clients add the scheme; yard keeps the nexus's own (http:// against a local server).
    let scheme = nexus.split_once("://").map_or("https", |(scheme, _)| scheme);
    let login_url = if da_login.contains("://") { da_login.to_owned() } else { format!("{scheme}://{da_login}") };
    let encode =
        |text: &str| percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    let authorization = format!(
        "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in={},pwd={},{policy}",
        encode(&account.handle),
        encode(&account.password)
    );
    let login = client.get(&login_url).header("Authorization", authorization).send().await.map_err(unreachable)?;
    if login.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::LoginRefused("wrong handle or password".into()));
    }
    if !login.status().is_success() {
        return Err(Error::Protocol(format!("the Passport nexus answered {}", login.status())));
    }
    let info = header(&login, "Authentication-Info")?;
    let ticket = info
        .split_once("from-PP='")
        .and_then(|(_, rest)| rest.split('\'').next())
        .ok_or_else(|| Error::Protocol(format!("no ticket from the nexus: {info}")))?;
    Ok(ticket.to_owned())
}

/// Switchyard's nexus on its default HTTP port, on the host of the notification server.
fn default_nexus(server: &str) -> String {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    format!("http://{host}:8080")
}

fn http_client(options: &Options) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder().timeout(options.timeout);
    if let Some(path) = &options.nexus_ca {
        let pem =
            std::fs::read(path).map_err(|e| Error::Unreachable(format!("cannot read {}: {e}", path.display())))?;
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| Error::Unreachable(format!("{} is not a PEM certificate: {e}", path.display())))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|e| Error::Unreachable(format!("cannot make an HTTPS client: {e}")))
}

fn header(response: &reqwest::Response, name: &str) -> Result<String, Error> {
    let value = response.headers().get(name).and_then(|v| v.to_str().ok());
    value.map(str::to_owned).ok_or_else(|| Error::Protocol(format!("the Passport nexus sent no {name}")))
}
