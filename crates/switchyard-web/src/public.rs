//! The front page: who is online and how to connect each client.

use crate::page::{refusal, Page};
use crate::Web;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use std::sync::Arc;
use switchyard_core::Protocol;

fn how_to_connect(web: &Web, protocol: Protocol) -> Markup {
    let connect = &web.config.connect;
    let address = connect.of(protocol);
    html! {
        article.card.protocol {
            h2 { (protocol.title()) }
            @match (protocol, address) {
                (_, None) => { p.muted { "Not served here." } }
                (Protocol::Msn, Some(address)) => {
                    p { "Server: " code { (address) } }
                    p.muted { "Point the client's " code { "messenger.hotmail.com" } " at it (MSN Messenger 1.0 to 7.5, or any MSNP2–12 client). "
                        "Sign in as " code { "NAME@" (web.config.msn_domain) } "." }
                    pre { "yard chat --protocol msn --server " (address) " --handle NAME@" (web.config.msn_domain) }
                }
                (Protocol::Mrim, Some(address)) => {
                    @if let Some(redirector) = &connect.mrim_redirector {
                        p { "Server: " code { (redirector) } " (in the client: " code { "mrim.mail.ru" } ")" }
                    }
                    p { "Or directly: " code { (address) } }
                    p.muted { "Mail.Ru Agent and pidgin-mra sign in as " code { "NAME@" (web.config.mrim_domain) } "." }
                    pre { "yard chat --protocol mrim --server " (address) " --handle NAME@" (web.config.mrim_domain) }
                }
                (Protocol::MyIcq, Some(address)) => {
                    p { "Server (UDP): " code { (address) } }
                    p.muted { "MyICQ logs in with your UIN, shown when you sign up." }
                    pre { "yard chat --protocol myicq --server " (address) " --handle UIN" }
                }
            }
        }
    }
}

pub(crate) async fn home(State(web): State<Arc<Web>>, page: Page) -> Response {
    let online = web.live.latest().map(|sample| sample.sessions).unwrap_or_default();
    let total: u64 = online.iter().sum();
    let body = html! {
        section.hero {
            h1 { (web.config.network_name) }
            p.lead { "MSN Messenger, Mail.Ru Agent and MyICQ, back on one network: one account, every client, everyone can talk to everyone." }
            @if web.config.signup_open && page.account().is_none() {
                p { a.button href="/signup" { "Sign up" } " " a href="/login" { "or log in" } }
            }
        }
        section.card {
            h2 { "Online now: " span #online-total { (total) } }
            ul.online {
                @for protocol in Protocol::ALL {
                    li { span.label { (protocol.title()) } " " strong id=(format!("online-{}", protocol.name())) { (online[protocol.index()]) } }
                }
            }
        }
        h2 { "How to connect" }
        section.grid {
            @for protocol in Protocol::ALL { (how_to_connect(&web, protocol)) }
        }
    };
    page.render(&web, "Home", body)
}

pub(crate) async fn not_found(State(web): State<Arc<Web>>, page: Page) -> Response {
    refusal(&web, &page, StatusCode::NOT_FOUND, "Not found", "There is no such page here.")
}
