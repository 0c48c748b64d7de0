//! Signing up: a name, a password and a nickname make an account on every protocol at once.
//! Limited per address and for everyone per hour, and refused to an address the failed-login
//! limiter holds back.

use crate::page::{notice, refusal, set_cookie, Page, SESSION_COOKIE};
use crate::Web;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_core::account::nickname_refusal;
use switchyard_core::{AccountName, StoreError};

/// Passwords are this long at least, and at most (what the old clients' fields take).
pub(crate) const PASSWORD_LENGTHS: std::ops::RangeInclusive<usize> = 6..=64;
const WINDOW: Duration = Duration::from_secs(3600);
/// Addresses remembered per window at most; past that, new ones wait for the next window.
const MAX_ADDRESSES: usize = 100_000;

/// Sign-ups per address and in all, counted per hour.
pub(crate) struct SignupLimit {
    per_address: u32,
    in_all: u32,
    state: Mutex<Window>,
}

struct Window {
    started: Instant,
    in_all: u32,
    by_address: HashMap<IpAddr, u32>,
}

impl SignupLimit {
    pub fn new(per_address: u32, in_all: u32) -> Self {
        let window = Window { started: Instant::now(), in_all: 0, by_address: HashMap::new() };
        SignupLimit { per_address, in_all, state: Mutex::new(window) }
    }

    /// Takes one sign-up from `ip`'s allowance, or says it is spent.
    fn take(&self, ip: IpAddr) -> bool {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if window.started.elapsed() >= WINDOW {
            *window = Window { started: Instant::now(), in_all: 0, by_address: HashMap::new() };
        }
        let known = window.by_address.contains_key(&ip);
        let from_ip = window.by_address.get(&ip).copied().unwrap_or(0);
        if window.in_all >= self.in_all
            || from_ip >= self.per_address
            || (!known && window.by_address.len() >= MAX_ADDRESSES)
        {
            return false;
        }
        window.in_all += 1;
        window.by_address.insert(ip, from_ip + 1);
        true
    }
}

/// Checks a new password and its repetition.
pub(crate) fn password_refusal(password: &str, again: &str) -> Option<&'static str> {
    if !PASSWORD_LENGTHS.contains(&password.chars().count()) {
        Some("the password must be 6 to 64 characters")
    } else if password != again {
        Some("the two passwords differ")
    } else {
        None
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct SignupForm {
    csrf: String,
    name: String,
    password: String,
    again: String,
    #[serde(default)]
    nickname: String,
}

fn form_page(web: &Web, page: &Page, typed: &SignupForm, problem: Option<&str>) -> Response {
    let body = html! {
        section.card.narrow {
            h1 { "Sign up" }
            p.muted { "One account for MSN Messenger, Mail.Ru Agent and MyICQ." }
            (notice(problem, false))
            form method="post" action="/signup" {
                (page.csrf_field())
                label { "Name"
                    input name="name" value=(typed.name) autocomplete="username" required maxlength="64"
                        pattern="[a-z0-9._\\-]+" title="lowercase letters, digits, '.', '_' and '-'";
                    small { "Lowercase letters, digits, '.', '_' and '-'. It becomes your handle everywhere." }
                }
                label { "Nickname" input name="nickname" value=(typed.nickname) maxlength="128"; small { "What others see; your name if empty." } }
                label { "Password" input type="password" name="password" autocomplete="new-password" required minlength="6" maxlength="64"; }
                label { "Password again" input type="password" name="again" autocomplete="new-password" required; }
                button type="submit" { "Create my account" }
            }
        }
    };
    page.render(web, "Sign up", body)
}

fn closed(web: &Web, page: &Page) -> Response {
    let why = format!("Ask the operator of {} for an account.", web.config.network_name);
    refusal(web, page, StatusCode::FORBIDDEN, "Sign-up is closed", &why)
}

pub(crate) async fn form(State(web): State<Arc<Web>>, page: Page) -> Response {
    if !web.config.signup_open {
        return closed(&web, &page);
    }
    form_page(&web, &page, &SignupForm::default(), None)
}

pub(crate) async fn submit(State(web): State<Arc<Web>>, page: Page, Form(form): Form<SignupForm>) -> Response {
    if !web.config.signup_open {
        return closed(&web, &page);
    }
    if let Some(forged) = page.forged(&web, &form.csrf) {
        return forged;
    }
    let refuse = |status: StatusCode, problem: &str| {
        let mut response = form_page(&web, &page, &form, Some(problem));
        *response.status_mut() = status;
        response
    };
    let name = match AccountName::typed(&form.name) {
        Ok(name) => name,
        Err(problem) => return refuse(StatusCode::BAD_REQUEST, &problem),
    };
    let nickname = Some(form.nickname.trim()).filter(|n| !n.is_empty());
    if let Some(problem) = nickname.and_then(nickname_refusal) {
        return refuse(StatusCode::BAD_REQUEST, problem);
    }
    if let Some(problem) = password_refusal(&form.password, &form.again) {
        return refuse(StatusCode::BAD_REQUEST, problem);
    }
    let ip = page.visitor.address;
    if web.core.login_throttle().check(ip, None).is_err() || !web.signups.take(ip) {
        tracing::warn!(%ip, "sign-up refused: too many from this address or in all");
        return refuse(StatusCode::TOO_MANY_REQUESTS, "Too many sign-ups just now: try again in an hour.");
    }
    let account = match web.core.store().create_account(&name, &form.password, nickname).await {
        Ok(account) => account,
        Err(e @ (StoreError::NameTaken(_) | StoreError::NumericName(_))) => {
            return refuse(StatusCode::CONFLICT, &e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-up not stored");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "The account could not be created just now; try again.");
        }
    };
    tracing::info!(%ip, account = %account.name, uin = account.uin, "signed up on the web");
    let (msn, mrim) = web.handles(&account.name);
    let body = html! {
        section.card.narrow {
            h1 { "Welcome, " (account.display_name()) }
            p { "Your account is ready. Log in with your password and:" }
            dl.handles {
                dt { "MSN Messenger" } dd { code #msn-handle { (msn) } }
                dt { "Mail.Ru Agent" } dd { code #mrim-handle { (mrim) } }
                dt { "MyICQ" } dd { "UIN " code #myicq-uin { (account.uin) } }
            }
            p { a href="/" { "How to set up your messenger" } " · " a href="/account" { "Your account" } }
        }
    };
    // Logged in from here on: the frame of this very page says so.
    let token = web.sessions.start(account.id);
    let page = page.logged_in(token.clone(), account);
    let mut response = page.render(&web, "Welcome", body);
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, &token, None, page.visitor.secure));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_per_address_and_in_all_per_hour() {
        let limit = SignupLimit::new(2, 3);
        let (a, b, c) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), [10, 0, 0, 3].into());
        assert!(limit.take(a) && limit.take(a));
        assert!(!limit.take(a), "two per address");
        assert!(limit.take(b));
        assert!(!limit.take(c), "three in all");
    }

    #[test]
    fn passwords_are_checked_for_length_and_repetition() {
        assert_eq!(password_refusal("short", "short"), Some("the password must be 6 to 64 characters"));
        assert_eq!(password_refusal("long enough", "long enougH"), Some("the two passwords differ"));
        assert_eq!(password_refusal("пароль", "пароль"), None);
    }
}
