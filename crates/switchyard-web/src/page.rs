//! One request as the pages see it (the visitor, their CSRF token, their account if logged in)
//! and the frame every page is drawn in.

use crate::{Visitor, Web};
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use std::convert::Infallible;
use std::sync::Arc;
use switchyard_core::Account;

pub(crate) const CSRF_COOKIE: &str = "sy_csrf";
pub(crate) const SESSION_COOKIE: &str = "sy_session";

/// A fresh random token: 32 bytes, hex.
pub(crate) fn token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn looks_like_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    let headers = parts.headers.get_all(COOKIE).into_iter().filter_map(|h| h.to_str().ok());
    headers.flat_map(|h| h.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, for the whole site, `Secure` over HTTPS.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>, secure: bool) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie values are tokens")
}

pub(crate) struct Page {
    pub visitor: Visitor,
    csrf: String,
    /// The visitor had no CSRF cookie: this response sets it.
    csrf_is_new: bool,
    /// The session cookie's token and its account, when logged in.
    pub session: Option<(String, Account)>,
}

impl FromRequestParts<Arc<Web>> for Page {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Infallible> {
        let visitor = Visitor::from_request_parts(parts, web).await?;
        let (csrf, csrf_is_new) = match cookie(parts, CSRF_COOKIE).filter(|v| looks_like_token(v)) {
            Some(csrf) => (csrf.to_owned(), false),
            None => (token(), true),
        };
        let mut session = None;
        if let Some(token) = cookie(parts, SESSION_COOKIE).filter(|v| looks_like_token(v)) {
            if let Some(id) = web.sessions.account(token) {
                match web.core.store().account_by_id(id).await {
                    Ok(Some(account)) => session = Some((token.to_owned(), account)),
                    Ok(None) => web.sessions.end(token),
                    Err(e) => tracing::warn!(error = %e, "account of a web session not read"),
                }
            }
        }
        Ok(Page { visitor, csrf, csrf_is_new, session })
    }
}

/// A form that carries nothing but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    pub csrf: String,
}

/// A page that says why a request is refused.
pub(crate) fn refusal(web: &Web, page: &Page, status: StatusCode, title: &str, why: &str) -> Response {
    let body =
        html! { section.card.narrow { h1 { (title) } p { (why) } p { a href="/" { "Back to the front page" } } } };
    (status, page.render(web, title, body)).into_response()
}

pub(crate) fn forbidden(web: &Web, page: &Page, why: &str) -> Response {
    refusal(web, page, StatusCode::FORBIDDEN, "Not allowed", why)
}

impl Page {
    pub fn account(&self) -> Option<&Account> {
        self.session.as_ref().map(|(_, account)| account)
    }

    /// This request as it is once `token` logs it in as `account`.
    pub fn logged_in(self, token: String, account: Account) -> Page {
        Page { session: Some((token, account)), ..self }
    }

    /// The hidden field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// The refusal of a submitted form that did not come from this site's own page in this
    /// browser (its token is not the cookie's); `None` for one that did.
    pub fn forged(&self, web: &Web, submitted: &str) -> Option<Response> {
        let genuine = !self.csrf_is_new && submitted == self.csrf;
        (!genuine).then(|| forbidden(web, self, "The form had expired. Load the page again and retry."))
    }

    /// A complete page: the site's frame around `body`, with the CSRF cookie if it is new.
    pub fn render(&self, web: &Web, title: &str, body: Markup) -> Response {
        let name = &web.config.network_name;
        let account = self.account();
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (name) }
                    link rel="stylesheet" href="/assets/app.css";
                }
                body {
                    header.top {
                        a.brand href="/" { (name) }
                        nav {
                            @if let Some(account) = account {
                                @if web.is_admin(&account.name) { a href="/admin" { "Dashboard" } }
                                a href="/account" { (account.name) }
                                form.inline method="post" action="/logout" {
                                    (self.csrf_field())
                                    button.link type="submit" { "Log out" }
                                }
                            } @else {
                                @if web.config.signup_open { a href="/signup" { "Sign up" } }
                                a href="/login" { "Log in" }
                            }
                        }
                    }
                    main { (body) }
                    footer { (name) " runs Switchyard: MSN Messenger, Mail.Ru Agent and MyICQ on one network." }
                }
            }
        };
        self.with_cookie(markup.into_response())
    }

    /// `response` with the CSRF cookie if this request had none, and never cached: pages show
    /// who is logged in.
    pub fn with_cookie(&self, mut response: Response) -> Response {
        if self.csrf_is_new {
            response.headers_mut().append(SET_COOKIE, set_cookie(CSRF_COOKIE, &self.csrf, None, self.visitor.secure));
        }
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// To the login page, then back to `next`.
    pub fn login_first(&self, next: &str) -> Response {
        self.with_cookie(Redirect::to(&format!("/login?next={next}")).into_response())
    }
}

/// A notice above a form: what went wrong, or what was done.
pub(crate) fn notice(text: Option<&str>, ok: bool) -> Markup {
    html! {
        @if let Some(text) = text {
            p class=(if ok { "notice ok" } else { "notice error" }) role="status" { (text) }
        }
    }
}
