//! The network's web site, served beside the Passport nexus: public pages (who is online, how to
//! connect, sign-up), each user's account pages, the operator's dashboard with live charts, and
//! what machines read (`/metrics`, `/healthz`, `/readyz`).
//!
//! Pages are rendered on the server (maud) and work without JavaScript; only the dashboard's
//! charts are drawn by a small script of the project's own. Every form carries a CSRF token
//! that must match the visitor's `HttpOnly`, `SameSite=Strict` cookie (double submit); a logged-in
//! visitor holds a server-side session named by another such cookie.

// A guard's refusal is the response itself, as axum handlers return them: boxing it would only
// move the allocation.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod assets;
mod auth;
mod live;
mod metrics;
mod page;
mod public;
mod signup;
mod system;
mod visitor;

use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use switchyard_core::{AccountName, Core, Protocol};

pub use visitor::Visitor;

/// Where each protocol's clients connect, as the front page tells them.
#[derive(Debug, Clone, Default)]
pub struct ConnectAddresses {
    /// The MSN dispatch server (or the notification server when there is no dispatch).
    pub msn: Option<String>,
    /// The MRIM redirector (`mrim.mail.ru` in the clients), and the MRIM server itself.
    pub mrim_redirector: Option<String>,
    pub mrim: Option<String>,
    /// The MyICQ UDP server.
    pub myicq: Option<String>,
}

impl ConnectAddresses {
    fn of(&self, protocol: Protocol) -> Option<&str> {
        match protocol {
            Protocol::Msn => self.msn.as_deref(),
            Protocol::Mrim => self.mrim.as_deref(),
            Protocol::MyIcq => self.myicq.as_deref(),
        }
    }
}

/// The site's settings (`[web]`).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The network's name, on every page.
    pub network_name: String,
    /// Whether newcomers may sign up here.
    pub signup_open: bool,
    /// Sign-ups one address may make per hour, and all addresses together.
    pub signups_per_address_per_hour: u32,
    pub signups_per_hour: u32,
    /// The accounts that see the operator's pages.
    pub admins: Vec<AccountName>,
    pub connect: ConnectAddresses,
    /// The domains of the handles shown: `NAME@msn_domain`, `NAME@mrim_domain`.
    pub msn_domain: String,
    pub mrim_domain: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            network_name: "Switchyard".into(),
            signup_open: true,
            signups_per_address_per_hour: 5,
            signups_per_hour: 120,
            admins: Vec::new(),
            connect: ConnectAddresses::default(),
            msn_domain: "hotmail.com".into(),
            mrim_domain: "mail.ru".into(),
        }
    }
}

/// Everything the handlers share.
pub struct Web {
    core: Core,
    config: WebConfig,
    sessions: auth::Sessions,
    signups: signup::SignupLimit,
    live: live::Live,
    ready: AtomicBool,
    /// When `/readyz` last asked the store, and whether it answered.
    store_checked: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl Web {
    /// The site for `core`. Call within a Tokio runtime: it starts the sampler the dashboard
    /// and `/metrics` read, which ends when the site is dropped.
    pub fn new(core: Core, config: WebConfig) -> Arc<Web> {
        let signups = signup::SignupLimit::new(config.signups_per_address_per_hour, config.signups_per_hour);
        let web = Arc::new(Web {
            core,
            config,
            sessions: auth::Sessions::default(),
            signups,
            live: live::Live::default(),
            ready: AtomicBool::new(false),
            store_checked: std::sync::Mutex::new(None),
        });
        live::start_sampling(&web);
        web
    }

    /// Says whether the server's listeners are all up (`/readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    fn is_admin(&self, name: &AccountName) -> bool {
        self.config.admins.contains(name)
    }

    fn handles(&self, name: &AccountName) -> (String, String) {
        (format!("{name}@{}", self.config.msn_domain), format!("{name}@{}", self.config.mrim_domain))
    }
}

/// The largest form body taken: a profile of long non-Latin texts, percent-encoded, fits;
/// anything larger is refused before it is read whole.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The site's routes. Requests should carry a [`Visitor`] extension (their address, and
/// whether they came over HTTPS).
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(public::home))
        .route("/signup", get(signup::form).post(signup::submit))
        .route("/login", get(auth::form).post(auth::submit))
        .route("/logout", post(auth::logout))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/nickname", post(account::change_nickname))
        .route("/account/profile", post(account::change_profile))
        .route("/account/delete", get(account::delete_form).post(account::delete))
        .route("/admin", get(admin::dashboard))
        .route("/admin/live", get(live::stream))
        .route("/admin/accounts/{name}/disable", post(admin::disable))
        .route("/admin/accounts/{name}/enable", post(admin::enable))
        .route("/admin/accounts/{name}/password", post(admin::reset_password))
        .route("/admin/broadcast", post(admin::broadcast))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/assets/app.css", get(assets::css))
        .route("/assets/charts.js", get(assets::charts))
        .fallback(public::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(web)
}
