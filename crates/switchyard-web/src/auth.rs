//! Logging in to the site: server-side sessions named by a cookie, checked against the
//! account's password with the failed-login limiter every protocol shares.

use crate::page::{notice, set_cookie, token, CsrfForm, Page, SESSION_COOKIE};
use crate::Web;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_core::{Account, AccountId, AccountName};

/// A session unused this long ends.
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; past that a new login ends the stalest.
const MAX_SESSIONS: usize = 100_000;

#[derive(Default)]
pub(crate) struct Sessions {
    by_token: Mutex<HashMap<String, (AccountId, Instant)>>,
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (AccountId, Instant)>> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn start(&self, account: AccountId) -> String {
        let now = Instant::now();
        let mut map = self.map();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, (_, used)| now.duration_since(*used) < SESSION_IDLE);
        }
        if map.len() >= MAX_SESSIONS {
            if let Some(stalest) = map.iter().min_by_key(|(_, (_, used))| *used).map(|(t, _)| t.clone()) {
                map.remove(&stalest);
            }
        }
        let token = token();
        map.insert(token.clone(), (account, now));
        token
    }

    /// The session's account, if the session is live; using it keeps it so.
    pub fn account(&self, token: &str) -> Option<AccountId> {
        let now = Instant::now();
        let mut map = self.map();
        let (account, used) = map.get_mut(token)?;
        if now.duration_since(*used) >= SESSION_IDLE {
            map.remove(token);
            return None;
        }
        *used = now;
        Some(*account)
    }

    pub fn end(&self, token: &str) {
        self.map().remove(token);
    }

    /// Ends every session of `account` but `keep`.
    pub fn end_all_of(&self, account: AccountId, keep: Option<&str>) {
        self.map().retain(|token, (owner, _)| *owner != account || Some(token.as_str()) == keep);
    }
}

/// The account a typed login names: its name, a handle (`name@any.domain`) or a UIN.
pub(crate) async fn named(web: &Web, typed: &str) -> Option<Account> {
    let typed = typed.trim().to_lowercase();
    let store = web.core.store();
    if let Ok(uin) = typed.parse::<u32>() {
        if let Ok(Some(account)) = store.account_by_uin(uin).await {
            return Some(account);
        }
    }
    let name = typed.split_once('@').map_or(typed.as_str(), |(name, _)| name);
    store.account_by_name(&AccountName::new(name).ok()?).await.ok().flatten()
}

#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Only a path of this site: never somewhere else (`//host`, `https://…`).
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/account",
    }
}

fn login_page(web: &Web, page: &Page, next: &str, typed: &str, problem: Option<&str>) -> Response {
    let body = html! {
        section.card.narrow {
            h1 { "Log in" }
            p.muted { "With the name and password you use in your messenger." }
            (notice(problem, false))
            form method="post" action="/login" {
                (page.csrf_field())
                input type="hidden" name="next" value=(next);
                label { "Name, handle or UIN" input name="name" value=(typed) autocomplete="username" required; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Log in" }
            }
        }
    };
    page.render(web, "Log in", body)
}

pub(crate) async fn form(State(web): State<Arc<Web>>, page: Page, Query(next): Query<Next>) -> Response {
    login_page(&web, &page, local_path(next.next.as_deref()), "", None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    csrf: String,
    name: String,
    password: String,
    next: Option<String>,
}

pub(crate) async fn submit(State(web): State<Arc<Web>>, page: Page, Form(form): Form<LoginForm>) -> Response {
    if let Some(forged) = page.forged(&web, &form.csrf) {
        return forged;
    }
    let next = local_path(form.next.as_deref());
    let ip = page.visitor.address;
    let account = named(&web, &form.name).await;
    let name = account.as_ref().map(|a| &a.name);
    let throttle = web.core.login_throttle();
    if let Err(held) = throttle.check(ip, name) {
        let wait = format!("Too many failed logins: try again in {} seconds.", held.retry_after.as_secs().max(1));
        let mut response = login_page(&web, &page, next, &form.name, Some(&wait));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return response;
    }
    let secrets = match &account {
        Some(account) => web.core.store().secrets(account.id).await.ok().flatten(),
        None => None,
    };
    let right = secrets.is_some_and(|s| s.accepts_password(&form.password));
    throttle.record(ip, name, right);
    let Some(account) = account.filter(|_| right) else {
        tracing::info!(%ip, login = %form.name, "web login refused");
        let mut response = login_page(&web, &page, next, &form.name, Some("Wrong name or password."));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    };
    tracing::info!(%ip, account = %account.name, "web login");
    let token = web.sessions.start(account.id);
    let mut response = page.with_cookie(Redirect::to(next).into_response());
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, &token, None, page.visitor.secure));
    response
}

pub(crate) async fn logout(State(web): State<Arc<Web>>, page: Page, Form(form): Form<CsrfForm>) -> Response {
    if let Some(forged) = page.forged(&web, &form.csrf) {
        return forged;
    }
    if let Some((token, _)) = &page.session {
        web.sessions.end(token);
    }
    let mut response = page.with_cookie(Redirect::to("/").into_response());
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), page.visitor.secure));
    response
}
