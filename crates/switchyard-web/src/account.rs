//! A user's own pages: their handles, password, nickname, profile and contact lists, and
//! deleting the account.

use crate::page::{notice, set_cookie, Page, SESSION_COOKIE};
use crate::signup::password_refusal;
use crate::Web;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;
use switchyard_core::account::nickname_refusal;
use switchyard_core::{Account, Date, Profile, RelationFlags, Sex};

/// Longest text a profile field takes here.
const MAX_FIELD: usize = 255;

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// What a finished change says, by the `done` the redirect after it names.
fn done_notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "password" => "Your password is changed. Your messengers must log in again with the new one.",
        "nickname" => "Your nickname is changed.",
        "profile" => "Your profile is saved.",
        _ => return None,
    })
}

fn profile_form(page: &Page, profile: &Profile) -> Markup {
    let text = |label: &str, name: &str, value: &str| {
        html! { label { (label) input name=(name) value=(value) maxlength="255"; } }
    };
    let birthday = profile.birthday.map(|d| d.to_string()).unwrap_or_default();
    html! {
        form method="post" action="/account/profile" {
            (page.csrf_field())
            div.fields {
                (text("First name", "first_name", &profile.first_name))
                (text("Last name", "last_name", &profile.last_name))
                label { "Sex"
                    select name="sex" {
                        option value="unknown" selected[profile.sex == Sex::Unknown] { "Not said" }
                        option value="female" selected[profile.sex == Sex::Female] { "Female" }
                        option value="male" selected[profile.sex == Sex::Male] { "Male" }
                    }
                }
                label { "Birthday" input type="date" name="birthday" value=(birthday); }
                (text("City", "city", &profile.city))
                (text("Country", "country", &profile.country))
                (text("Where you live (Mail.Ru Agent)", "location", &profile.location))
                (text("E-mail", "email", &profile.email))
                (text("Phone", "phone", &profile.phone))
                (text("Home page", "homepage", &profile.homepage))
                (text("Occupation", "occupation", &profile.occupation))
            }
            label { "About you" textarea name="about" maxlength="255" { (profile.about) } }
            button type="submit" { "Save the profile" }
        }
    }
}

fn flags_text(flags: RelationFlags, their: RelationFlags) -> String {
    let mut words = Vec::new();
    for (flag, word) in [
        (RelationFlags::FORWARD, "in your list"),
        (RelationFlags::ALLOW, "allowed"),
        (RelationFlags::BLOCK, "blocked"),
        (RelationFlags::AWAITING_AUTHORIZATION, "awaiting authorization"),
    ] {
        if flags.contains(flag) {
            words.push(word);
        }
    }
    if their.contains(RelationFlags::FORWARD) {
        words.push("has you in their list");
    }
    words.join(", ")
}

async fn account_page(web: &Web, page: &Page, account: &Account, message: Option<(&str, bool)>) -> Response {
    let store = web.core.store();
    let (profile, relations) = match (store.profile(account.id).await, store.relations(account.id).await) {
        (Ok(profile), Ok(relations)) => (profile, relations),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "account page not read");
            let body = html! { h1 { "Not available" } p { "Your account cannot be read just now; try again." } };
            return (StatusCode::SERVICE_UNAVAILABLE, page.render(web, "Not available", body)).into_response();
        }
    };
    let (msn, mrim) = web.handles(&account.name);
    let nickname = account.nickname.clone().unwrap_or_default();
    let body = html! {
        h1 { "Your account" }
        (notice(message.map(|(text, _)| text), message.is_some_and(|(_, ok)| ok)))
        section.grid {
            article.card {
                h2 { "Your handles" }
                dl.handles {
                    dt { "MSN Messenger" } dd { code { (msn) } }
                    dt { "Mail.Ru Agent" } dd { code { (mrim) } }
                    dt { "MyICQ" } dd { "UIN " code { (account.uin) } }
                }
            }
            article.card {
                h2 { "Nickname" }
                form method="post" action="/account/nickname" {
                    (page.csrf_field())
                    label { "Shown to others" input name="nickname" value=(nickname) maxlength="128" required; }
                    button type="submit" { "Change the nickname" }
                }
            }
            article.card {
                h2 { "Password" }
                form method="post" action="/account/password" {
                    (page.csrf_field())
                    label { "Current password" input type="password" name="current" autocomplete="current-password" required; }
                    label { "New password" input type="password" name="password" autocomplete="new-password" required minlength="6" maxlength="64"; }
                    label { "New password again" input type="password" name="again" autocomplete="new-password" required; }
                    button type="submit" { "Change the password" }
                }
            }
        }
        section.card {
            h2 { "Profile" }
            p.muted { "What Mail.Ru Agent and MyICQ users see when they look you up." }
            (profile_form(page, &profile))
        }
        section.card {
            h2 { "Contacts" }
            @if relations.is_empty() {
                p.muted { "Nobody yet. Add contacts from your messenger." }
            } @else {
                div.scroll { table {
                    thead { tr { th { "Name" } th { "Shown as" } th { "UIN" } th { "Relation" } } }
                    tbody {
                        @for relation in &relations {
                            tr {
                                td { (relation.other.name) }
                                td { (relation.display_name) }
                                td { (relation.other.uin) }
                                td { (flags_text(relation.flags, relation.their_flags)) }
                            }
                        }
                    }
                } }
            }
        }
        section.card.danger {
            h2 { "Delete the account" }
            p { "Removes the account, its contacts and waiting messages, on every protocol. "
                a href="/account/delete" { "Delete my account…" } }
        }
    };
    page.render(web, "Your account", body)
}

pub(crate) async fn page(State(web): State<Arc<Web>>, page: Page, Query(done): Query<Done>) -> Response {
    let Some(account) = page.account() else { return page.login_first("/account") };
    let done = done_notice(done.done.as_deref()).map(|text| (text, true));
    account_page(&web, &page, account, done).await
}

/// The account a submitted form changes: the visitor's own, if they are logged in and the form
/// is this site's; else the answer to give.
fn own_account<'a>(web: &Web, page: &'a Page, csrf: &str, back: &str) -> Result<&'a Account, Response> {
    let Some(account) = page.account() else { return Err(page.login_first(back)) };
    match page.forged(web, csrf) {
        Some(forged) => Err(forged),
        None => Ok(account),
    }
}

/// Refuses a change with its reason, on the account page.
async fn refused(web: &Web, page: &Page, account: &Account, status: StatusCode, why: &str) -> Response {
    let mut response = account_page(web, page, account, Some((why, false))).await;
    *response.status_mut() = status;
    response
}

fn store_failed(web: &Web, page: &Page, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "account change not stored");
    let body = html! { h1 { "Not saved" } p { "The change could not be stored just now; try again." } };
    (StatusCode::SERVICE_UNAVAILABLE, page.render(web, "Not saved", body)).into_response()
}

/// Whether `password` is the account's, through the failed-login limiter.
async fn password_is_right(web: &Web, page: &Page, account: &Account, password: &str) -> Result<bool, &'static str> {
    let throttle = web.core.login_throttle();
    let ip = page.visitor.address;
    if throttle.check(ip, Some(&account.name)).is_err() {
        return Err("Too many wrong passwords: try again in a minute.");
    }
    let secrets = web.core.store().secrets(account.id).await.ok().flatten();
    let right = secrets.is_some_and(|s| s.accepts_password(password));
    throttle.record(ip, Some(&account.name), right);
    Ok(right)
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
    again: String,
}

pub(crate) async fn change_password(
    State(web): State<Arc<Web>>,
    page: Page,
    Form(form): Form<PasswordForm>,
) -> Response {
    let account = match own_account(&web, &page, &form.csrf, "/account") {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    match password_is_right(&web, &page, account, &form.current).await {
        Ok(true) => {}
        Ok(false) => {
            return refused(&web, &page, account, StatusCode::FORBIDDEN, "The current password is wrong.").await
        }
        Err(why) => return refused(&web, &page, account, StatusCode::TOO_MANY_REQUESTS, why).await,
    }
    if let Some(why) = password_refusal(&form.password, &form.again) {
        return refused(&web, &page, account, StatusCode::BAD_REQUEST, why).await;
    }
    if let Err(e) = web.core.store().set_password(account.id, &form.password).await {
        return store_failed(&web, &page, e);
    }
    // Every other way in ends: the messengers' sessions, and the site's elsewhere.
    web.core.end_sessions(account.id);
    web.sessions.end_all_of(account.id, page.session.as_ref().map(|(token, _)| token.as_str()));
    tracing::info!(account = %account.name, "password changed on the web");
    page.with_cookie(Redirect::to("/account?done=password").into_response())
}

#[derive(Deserialize)]
pub(crate) struct NicknameForm {
    csrf: String,
    nickname: String,
}

pub(crate) async fn change_nickname(
    State(web): State<Arc<Web>>,
    page: Page,
    Form(form): Form<NicknameForm>,
) -> Response {
    let account = match own_account(&web, &page, &form.csrf, "/account") {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    let nickname = form.nickname.trim();
    if let Some(why) = nickname_refusal(nickname) {
        return refused(&web, &page, account, StatusCode::BAD_REQUEST, why).await;
    }
    if let Err(e) = web.core.store().set_nickname(account.id, Some(nickname)).await {
        return store_failed(&web, &page, e);
    }
    page.with_cookie(Redirect::to("/account?done=nickname").into_response())
}

#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    csrf: String,
    first_name: String,
    last_name: String,
    sex: String,
    birthday: String,
    city: String,
    country: String,
    location: String,
    email: String,
    phone: String,
    homepage: String,
    occupation: String,
    about: String,
}

impl ProfileForm {
    /// `profile` with this form's fields, or why they cannot be.
    fn apply(self, mut profile: Profile) -> Result<Profile, &'static str> {
        let texts = [
            (&self.first_name, &mut profile.first_name),
            (&self.last_name, &mut profile.last_name),
            (&self.city, &mut profile.city),
            (&self.country, &mut profile.country),
            (&self.location, &mut profile.location),
            (&self.email, &mut profile.email),
            (&self.phone, &mut profile.phone),
            (&self.homepage, &mut profile.homepage),
            (&self.occupation, &mut profile.occupation),
            (&self.about, &mut profile.about),
        ];
        for (typed, field) in texts {
            let typed = typed.trim();
            if typed.chars().count() > MAX_FIELD {
                return Err("profile fields are at most 255 characters");
            }
            *field = typed.to_owned();
        }
        profile.sex = match self.sex.as_str() {
            "female" => Sex::Female,
            "male" => Sex::Male,
            "unknown" => Sex::Unknown,
            _ => return Err("sex is female, male or not said"),
        };
        profile.birthday = match self.birthday.trim() {
            "" => None,
            typed => Some(Date::parse(typed).ok_or("the birthday is a date: YYYY-MM-DD")?),
        };
        Ok(profile)
    }
}

pub(crate) async fn change_profile(State(web): State<Arc<Web>>, page: Page, Form(form): Form<ProfileForm>) -> Response {
    let account = match own_account(&web, &page, &form.csrf, "/account") {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    let stored = match web.core.store().profile(account.id).await {
        Ok(profile) => profile,
        Err(e) => return store_failed(&web, &page, e),
    };
    let profile = match form.apply(stored) {
        Ok(profile) => profile,
        Err(why) => return refused(&web, &page, account, StatusCode::BAD_REQUEST, why).await,
    };
    if let Err(e) = web.core.store().set_profile(account.id, &profile).await {
        return store_failed(&web, &page, e);
    }
    page.with_cookie(Redirect::to("/account?done=profile").into_response())
}

fn delete_page(web: &Web, page: &Page, account: &Account, problem: Option<&str>) -> Response {
    let body = html! {
        section.card.narrow.danger {
            h1 { "Delete " (account.name) "?" }
            p { "The account, its contact lists and the messages waiting for it are removed on every protocol, "
                "and its handles can be taken by someone else. This cannot be undone." }
            (notice(problem, false))
            form method="post" action="/account/delete" {
                (page.csrf_field())
                label { "Type your name, " strong { (account.name) } ", to confirm" input name="confirm" required autocomplete="off"; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button.danger type="submit" { "Delete my account for good" }
            }
            p { a href="/account" { "Keep my account" } }
        }
    };
    page.render(web, "Delete the account", body)
}

pub(crate) async fn delete_form(State(web): State<Arc<Web>>, page: Page) -> Response {
    let Some(account) = page.account() else { return page.login_first("/account/delete") };
    delete_page(&web, &page, account, None)
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    csrf: String,
    confirm: String,
    password: String,
}

pub(crate) async fn delete(State(web): State<Arc<Web>>, page: Page, Form(form): Form<DeleteForm>) -> Response {
    let account = match own_account(&web, &page, &form.csrf, "/account/delete") {
        Ok(account) => account,
        Err(refused) => return refused,
    };
    let refuse = |why| {
        let mut response = delete_page(&web, &page, account, Some(why));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    };
    if form.confirm.trim() != account.name.as_str() {
        return refuse("The name typed is not the account's.");
    }
    match password_is_right(&web, &page, account, &form.password).await {
        Ok(true) => {}
        Ok(false) => return refuse("The password is wrong."),
        Err(why) => return refuse(why),
    }
    if let Err(e) = web.core.store().delete_account(account.id).await {
        return store_failed(&web, &page, e);
    }
    web.core.end_sessions(account.id);
    web.sessions.end_all_of(account.id, None);
    tracing::info!(account = %account.name, "account deleted on the web");
    let body = html! { section.card.narrow { h1 { "Deleted" } p { "The account " (account.name) " is gone." } } };
    let mut response = page.render(&web, "Deleted", body);
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0), page.visitor.secure));
    response
}
