//! The operator's pages, for the accounts the settings name administrators: live charts, who
//! is online, account search, disabling and enabling, password resets and broadcasts.

use crate::page::{forbidden, notice, refusal, CsrfForm, Page};
use crate::Web;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;
use switchyard_core::{Account, AccountName, Message, MessageKind, OnlineSession, Protocol};

/// Rows of the online table at most; the count above it says how many there are.
const ONLINE_ROWS: usize = 500;
const SEARCH_ROWS: usize = 50;
const MAX_BROADCAST: usize = 2000;

/// The administrator behind a request, or the answer for one who is not.
fn administrator<'a>(web: &Web, page: &'a Page, back: &str) -> Result<&'a Account, Response> {
    match page.account() {
        None => Err(page.login_first(back)),
        Some(account) if web.is_admin(&account.name) => Ok(account),
        Some(_) => Err(forbidden(web, page, "This page is for the network's operators.")),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct DashboardQuery {
    #[serde(default)]
    q: String,
    done: Option<String>,
    name: Option<String>,
}

fn done_notice(query: &DashboardQuery) -> Option<String> {
    let name = query.name.as_deref().and_then(|n| AccountName::new(n).ok());
    Some(match (query.done.as_deref()?, name) {
        ("disabled", Some(name)) => format!("{name} is disabled: its sessions ended and it cannot log in."),
        ("enabled", Some(name)) => format!("{name} may log in again."),
        ("broadcast", _) => "The broadcast is on its way to everyone.".to_owned(),
        _ => return None,
    })
}

/// A chart the script draws: its title and the series it plots, by sample field.
fn chart(id: &str, title: &str, series: &[(&str, &str)]) -> Markup {
    let series: Vec<String> = series.iter().map(|(key, label)| format!("{key}={label}")).collect();
    html! {
        figure.chart id=(id) data-series=(series.join(";")) {
            figcaption { (title) " " span.now {} }
            svg viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label=(title) {}
            div.legend {}
        }
    }
}

fn since(unix_ms: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let seconds = now.saturating_sub(unix_ms) / 1000;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} d {} h", seconds / 86400, seconds % 86400 / 3600),
    }
}

fn online_table(sessions: &[OnlineSession]) -> Markup {
    html! {
        div.scroll { table #online {
            thead { tr { th { "Account" } th { "Protocol" } th { "Client" } th { "Address" } th { "Status" } th { "Online for" } } }
            tbody {
                @for session in sessions.iter().take(ONLINE_ROWS) {
                    tr {
                        td { (session.account.name) @if let Some(nickname) = &session.account.nickname { br; small { (nickname) } } }
                        td { (session.protocol.title()) }
                        td { @if let Some(client) = &session.client { (client.version) } @else { "—" } }
                        td {
                            @match (&session.client, &session.node) {
                                (Some(client), _) => { (client.address.map(|a| a.to_string()).unwrap_or_default()) }
                                (None, Some(node)) => { "on node " (node) }
                                (None, None) => { "—" }
                            }
                        }
                        td { (format!("{:?}", session.status)) }
                        td { (since(session.since_unix_ms)) }
                    }
                }
            }
        } }
    }
}

async fn search_results(web: &Web, page: &Page, fragment: &str) -> Markup {
    let fragment = fragment.trim().to_lowercase();
    let found = match web.core.store().find_accounts(&fragment, SEARCH_ROWS).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "account search failed");
            return html! { p.notice.error { "The search failed; try again." } };
        }
    };
    let mut rows = Vec::new();
    for account in found {
        let disabled = web.core.store().is_disabled(account.id).await.unwrap_or(false);
        let online = web.core.online_presence(account.id).is_some();
        rows.push((account, disabled, online));
    }
    html! {
        @if rows.is_empty() { p.muted { "No account matches." } }
        @else {
            div.scroll { table #accounts {
                thead { tr { th { "Account" } th { "UIN" } th { "State" } th { "Actions" } } }
                tbody {
                    @for (account, disabled, online) in &rows {
                        tr {
                            td { (account.name) @if let Some(nickname) = &account.nickname { br; small { (nickname) } } }
                            td { (account.uin) }
                            td { @if *disabled { span.badge.off { "disabled" } } @else if *online { span.badge.on { "online" } } @else { "offline" } }
                            td.actions {
                                @let base = format!("/admin/accounts/{}", account.name);
                                @if *disabled {
                                    form.inline method="post" action=(format!("{base}/enable")) { (page.csrf_field()) button type="submit" { "Enable" } }
                                } @else {
                                    form.inline method="post" action=(format!("{base}/disable")) { (page.csrf_field()) button.danger type="submit" { "Disable" } }
                                }
                                form.inline method="post" action=(format!("{base}/password")) { (page.csrf_field()) button type="submit" { "Reset password" } }
                            }
                        }
                    }
                }
            } }
        }
    }
}

pub(crate) async fn dashboard(
    State(web): State<Arc<Web>>,
    page: Page,
    Query(query): Query<DashboardQuery>,
) -> Response {
    if let Err(refused) = administrator(&web, &page, "/admin") {
        return refused;
    }
    let latest = web.live.latest().unwrap_or_default();
    let mut online = web.core.online_sessions();
    online.sort_by_key(|session| std::cmp::Reverse(session.since_unix_ms));
    let messages: f64 = latest.messages.values().sum();
    let results = if query.q.trim().is_empty() { None } else { Some(search_results(&web, &page, &query.q).await) };
    let done = done_notice(&query);
    let body = html! {
        h1 { "Dashboard" }
        (notice(done.as_deref(), true))
        section.card {
            h2 { "Now" }
            div.numbers {
                @for protocol in Protocol::ALL {
                    div { span.label { (protocol.title()) " sessions" }
                        strong data-field=(format!("sessions.{}", protocol.index())) { (latest.sessions[protocol.index()]) } }
                }
                div { span.label { "Logins / s" } strong data-field="logins" { (format!("{:.1}", latest.logins)) } }
                div { span.label { "Failed logins / s" } strong data-field="failed_logins" { (format!("{:.1}", latest.failed_logins)) } }
                div { span.label { "Messages / s" } strong data-field="messages.sum" { (format!("{messages:.1}")) } }
                div { span.label { "Presence changes / s" } strong data-field="presence" { (format!("{:.1}", latest.presence)) } }
                div { span.label { "Offline queue" } strong data-field="offline" { (latest.offline.map_or("—".to_owned(), |n| n.to_string())) } }
                div { span.label { "Memory (MiB)" } strong data-field="memory_bytes" { (latest.memory_bytes.map_or("—".to_owned(), |b| format!("{:.1}", b as f64 / 1048576.0))) } }
                div { span.label { "CPU (%)" } strong data-field="cpu_percent" { (latest.cpu_percent.map_or("—".to_owned(), |c| format!("{c:.0}"))) } }
            }
        }
        section.charts #charts {
            (chart("chart-sessions", "Sessions", &[("sessions.0", "MSN"), ("sessions.1", "Mail.Ru"), ("sessions.2", "MyICQ")]))
            (chart("chart-logins", "Logins per second", &[("logins", "logins"), ("failed_logins", "failed")]))
            (chart("chart-messages", "Messages per second, by route", &[("messages.*", "")]))
            (chart("chart-presence", "Presence changes per second", &[("presence", "changes")]))
            (chart("chart-offline", "Offline queue", &[("offline", "messages")]))
            (chart("chart-memory", "Memory (MiB)", &[("memory_bytes", "resident")]))
            (chart("chart-cpu", "CPU (%)", &[("cpu_percent", "process")]))
        }
        noscript { p.muted { "The charts need JavaScript; the numbers above are as of this page's loading." } }
        section.card {
            h2 { "Online: " (online.len()) }
            @if online.len() > ONLINE_ROWS { p.muted { "The latest " (ONLINE_ROWS) " logins are shown." } }
            (online_table(&online))
        }
        section.card {
            h2 { "Accounts" }
            form.search method="get" action="/admin" {
                input name="q" value=(query.q) placeholder="Part of a name" aria-label="Part of a name";
                button type="submit" { "Search" }
            }
            @if let Some(results) = results { (results) }
        }
        section.card {
            h2 { "Broadcast" }
            p.muted { "A message to everyone, shown as each messenger shows a notice from the system; those offline find it when they log in." }
            form method="post" action="/admin/broadcast" {
                (page.csrf_field())
                textarea name="text" required maxlength=(MAX_BROADCAST) {}
                button type="submit" { "Send to everyone" }
            }
        }
        script src="/assets/charts.js" {}
    };
    page.render(&web, "Dashboard", body)
}

/// The account an administrator's action names, or the answer when it cannot be done.
async fn target(web: &Web, page: &Page, form_csrf: &str, name: &str) -> Result<Account, Response> {
    administrator(web, page, "/admin")?;
    if let Some(forged) = page.forged(web, form_csrf) {
        return Err(forged);
    }
    let found = match AccountName::new(name) {
        Ok(name) => web.core.store().account_by_name(&name).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(refusal(web, page, StatusCode::NOT_FOUND, "Not found", "There is no such account.")),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

async fn set_disabled(web: Arc<Web>, page: Page, name: String, csrf: String, disabled: bool) -> Response {
    let account = match target(&web, &page, &csrf, &name).await {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    if let Err(e) = web.core.set_disabled(account.id, disabled).await {
        tracing::error!(error = %e, "account not disabled or enabled");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if disabled {
        web.sessions.end_all_of(account.id, None);
    }
    let admin = page.account().map(|a| a.name.to_string()).unwrap_or_default();
    tracing::info!(%admin, account = %account.name, disabled, "account disabled or enabled on the web");
    let done = if disabled { "disabled" } else { "enabled" };
    page.with_cookie(Redirect::to(&format!("/admin?q={0}&done={done}&name={0}", account.name)).into_response())
}

pub(crate) async fn disable(
    State(web): State<Arc<Web>>,
    page: Page,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    set_disabled(web, page, name, form.csrf, true).await
}

pub(crate) async fn enable(
    State(web): State<Arc<Web>>,
    page: Page,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    set_disabled(web, page, name, form.csrf, false).await
}

/// A password to hand to the user: 12 letters and digits, without look-alikes.
fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..12).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

pub(crate) async fn reset_password(
    State(web): State<Arc<Web>>,
    page: Page,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let account = match target(&web, &page, &form.csrf, &name).await {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    let password = new_password();
    if let Err(e) = web.core.store().set_password(account.id, &password).await {
        tracing::error!(error = %e, "password not reset");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    web.core.end_sessions(account.id);
    web.sessions.end_all_of(account.id, None);
    tracing::info!(account = %account.name, "password reset on the web");
    let body = html! {
        section.card.narrow {
            h1 { "New password for " (account.name) }
            p { "Give it to its owner; it is shown only this once. Their sessions have ended." }
            p.secret { code #new-password { (password) } }
            p { a href=(format!("/admin?q={}", account.name)) { "Back to the dashboard" } }
        }
    };
    page.render(&web, "Password reset", body)
}

#[derive(Deserialize)]
pub(crate) struct BroadcastForm {
    csrf: String,
    text: String,
}

pub(crate) async fn broadcast(State(web): State<Arc<Web>>, page: Page, Form(form): Form<BroadcastForm>) -> Response {
    let admin = match administrator(&web, &page, "/admin") {
        Ok(admin) => admin.clone(),
        Err(refused) => return refused,
    };
    if let Some(forged) = page.forged(&web, &form.csrf) {
        return forged;
    }
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > MAX_BROADCAST {
        return (StatusCode::BAD_REQUEST, "A broadcast is 1 to 2000 characters.").into_response();
    }
    let message = Message {
        from: admin.to_ref(),
        from_display_name: admin.display_name(),
        kind: MessageKind::Broadcast,
        text: text.to_owned(),
        formatted: None,
        font: None,
        wants_receipt: false,
        sent_at: switchyard_core::unix_now(),
    };
    if let Err(e) = web.core.broadcast(message).await {
        tracing::error!(error = %e, "broadcast not stored");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    tracing::info!(admin = %admin.name, "broadcast sent from the web");
    page.with_cookie(Redirect::to("/admin?done=broadcast").into_response())
}
