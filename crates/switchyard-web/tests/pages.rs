//! The site's handlers, called through its router as a browser would: cookies kept, forms
//! posted with the page's CSRF token.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{Account, AccountName, ClientInfo, Core, CoreConfig, KickReason, Protocol};
use switchyard_web::{router, Visitor, Web, WebConfig};
use tower::ServiceExt;

struct Site {
    core: Core,
    web: Arc<Web>,
}

impl Site {
    async fn new(config: WebConfig) -> Site {
        let core = Core::new(Arc::new(MemoryStore::new()), CoreConfig::default());
        let web = Web::new(core.clone(), config);
        Site { core, web }
    }

    async fn with_admin_root() -> Site {
        let site =
            Site::new(WebConfig { admins: vec![AccountName::new("root").unwrap()], ..WebConfig::default() }).await;
        site.account("root", "rootpass", None).await;
        site
    }

    async fn account(&self, name: &str, password: &str, nickname: Option<&str>) -> Account {
        self.core.store().create_account(&AccountName::new(name).unwrap(), password, nickname).await.unwrap()
    }

    fn browser(&self, address: [u8; 4]) -> Browser {
        Browser {
            web: self.web.clone(),
            cookies: HashMap::new(),
            visitor: Visitor { address: address.into(), secure: false },
        }
    }
}

struct Browser {
    web: Arc<Web>,
    cookies: HashMap<String, String>,
    visitor: Visitor,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Browser {
    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Answer {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut request = request.header(header::COOKIE, cookie.join("; ")).body(body).unwrap();
        request.extensions_mut().insert(self.visitor);
        let response = router(self.web.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> =
            response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for set in &set_cookies {
            let (pair, _) = set.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        Answer { status, location, set_cookies, body }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path), Body::empty()).await
    }

    /// Posts a form with this browser's CSRF token (a page is loaded first if it has none).
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        if !self.cookies.contains_key("sy_csrf") {
            self.get("/").await;
        }
        let csrf = self.cookies["sy_csrf"].clone();
        self.post_with_csrf(path, &csrf, fields).await
    }

    async fn post_with_csrf(&mut self, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Answer {
        let mut pairs = vec![("csrf", csrf)];
        pairs.extend_from_slice(fields);
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body.join("&"))).await
    }

    async fn log_in(&mut self, name: &str, password: &str) -> Answer {
        self.post("/login", &[("name", name), ("password", password)]).await
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn sign_up_shows_every_handle_and_logs_the_newcomer_in() {
    let site = Site::new(WebConfig::default()).await;
    let mut browser = site.browser([10, 0, 0, 1]);
    let form = browser.get("/signup").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.set_cookies.iter().find(|c| c.starts_with("sy_csrf=")).expect("a CSRF cookie");
    assert!(csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict") && !csrf.contains("Secure"), "{csrf}");
    let fields = [("name", "newbie"), ("nickname", "New Bie"), ("password", "secret1"), ("again", "secret1")];
    let done = browser.post("/signup", &fields).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let account = site.core.store().account_by_name(&AccountName::new("newbie").unwrap()).await.unwrap().unwrap();
    assert!(done.body.contains("newbie@hotmail.com") && done.body.contains("newbie@mail.ru"), "{}", done.body);
    assert!(done.body.contains(&format!("<code id=\"myicq-uin\">{}</code>", account.uin)), "{}", done.body);
    assert_eq!(account.nickname.as_deref(), Some("New Bie"));
    assert!(site.core.store().secrets(account.id).await.unwrap().unwrap().accepts_password("secret1"));
    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your account") && page.body.contains("newbie@mail.ru"));
}

#[tokio::test]
async fn a_huge_form_is_refused_unread() {
    let site = Site::new(WebConfig::default()).await;
    let mut browser = site.browser([10, 0, 0, 8]);
    let huge = "x".repeat(200 * 1024);
    let refused = browser
        .post("/signup", &[("name", "huge"), ("nickname", &huge), ("password", "secret1"), ("again", "secret1")])
        .await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(site.core.store().account_by_name(&AccountName::new("huge").unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn garbled_and_incomplete_forms_are_refused() {
    let site = Site::with_admin_root().await;
    let mut browser = site.browser([10, 0, 0, 7]);
    browser.get("/").await;
    for (path, body) in [("/signup", "name=x&%ZZ=%%"), ("/login", "csrf=1"), ("/signup", "\u{0}\u{ff}garbage")] {
        let request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let answer = browser.send(request, Body::from(body)).await;
        assert!(answer.status.is_client_error(), "{path} {body:?}: {}", answer.status);
    }
    assert_eq!(site.core.store().accounts().await.unwrap().len(), 1, "nothing was created");
}

#[tokio::test]
async fn cookies_are_secure_over_https() {
    let site = Site::with_admin_root().await;
    let mut browser = site.browser([10, 0, 0, 9]);
    browser.visitor.secure = true;
    let page = browser.get("/login").await;
    assert!(page.set_cookies.iter().all(|c| c.contains("; Secure")), "{:?}", page.set_cookies);
    let done = browser.log_in("root", "rootpass").await;
    let session = done.set_cookies.iter().find(|c| c.starts_with("sy_session=")).unwrap();
    assert!(session.contains("; Secure") && session.contains("HttpOnly"), "{session}");
}

#[tokio::test]
async fn sign_up_refuses_what_the_command_line_refuses_in_its_words() {
    let site = Site::new(WebConfig { signups_per_address_per_hour: 100, ..WebConfig::default() }).await;
    site.account("taken", "pw", None).await;
    let mut browser = site.browser([10, 0, 0, 2]);
    let try_name = |name: &'static str| [("name", name), ("password", "secret1"), ("again", "secret1")];
    let bad = browser.post("/signup", &try_name("Bad Name")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let words = maud::html! { (AccountName::typed("Bad Name").unwrap_err()) }.into_string();
    assert!(bad.body.contains(&words), "{}", bad.body);
    let numeric = browser.post("/signup", &try_name("12345")).await;
    assert_eq!(numeric.status, StatusCode::CONFLICT);
    assert!(numeric.body.contains("is digits only"), "{}", numeric.body);
    let taken = browser.post("/signup", &try_name("taken")).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("an account named taken already exists"));
    let blank = browser
        .post("/signup", &[("name", "blank"), ("nickname", "\u{7}"), ("password", "secret1"), ("again", "secret1")])
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    let short = browser.post("/signup", &[("name", "shorty"), ("password", "abc"), ("again", "abc")]).await;
    assert!(short.body.contains("6 to 64 characters"));
    // Without the page's token: refused, whatever else is right.
    let forged = browser.post_with_csrf("/signup", &"0".repeat(64), &try_name("forged")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut stranger = site.browser([10, 0, 0, 3]);
    let no_cookie = stranger.post_with_csrf("/signup", &"0".repeat(64), &try_name("forged")).await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    assert!(site.core.store().account_by_name(&AccountName::new("forged").unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn sign_up_is_limited_per_address_and_can_be_closed() {
    let site = Site::new(WebConfig { signups_per_address_per_hour: 2, ..WebConfig::default() }).await;
    let mut browser = site.browser([10, 0, 0, 4]);
    for (i, name) in ["one", "two", "three"].into_iter().enumerate() {
        let done = browser.post("/signup", &[("name", name), ("password", "secret1"), ("again", "secret1")]).await;
        let expected = if i < 2 { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(done.status, expected, "{name}");
    }
    let mut elsewhere = site.browser([10, 0, 0, 5]);
    let done = elsewhere.post("/signup", &[("name", "three"), ("password", "secret1"), ("again", "secret1")]).await;
    assert_eq!(done.status, StatusCode::OK, "another address has its own allowance");

    let closed = Site::new(WebConfig { signup_open: false, ..WebConfig::default() }).await;
    let mut browser = closed.browser([10, 0, 0, 6]);
    assert_eq!(browser.get("/signup").await.status, StatusCode::FORBIDDEN);
    let done = browser.post("/signup", &[("name", "late"), ("password", "secret1"), ("again", "secret1")]).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert!(!browser.get("/").await.body.contains("href=\"/signup\""));
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_a_right_one_logs_in() {
    let site = Site::with_admin_root().await;
    // The owner's address is known to the account: the guessing elsewhere does not hold it back.
    let mut owner = site.browser([10, 0, 1, 2]);
    assert_eq!(owner.log_in("root", "rootpass").await.status, StatusCode::SEE_OTHER);
    let mut guesser = site.browser([10, 0, 1, 1]);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(guesser.log_in("root", "guess").await.status);
    }
    assert_eq!(&statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    let done = owner.log_in("root@mail.ru", "rootpass").await;
    assert_eq!((done.status, done.location.as_deref()), (StatusCode::SEE_OTHER, Some("/account")));
    let session = done.set_cookies.iter().find(|c| c.starts_with("sy_session=")).unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    // A login that would send the browser elsewhere stays here.
    let mut other = site.browser([10, 0, 1, 2]);
    let done = other.post("/login", &[("name", "root"), ("password", "rootpass"), ("next", "//evil.example/")]).await;
    assert_eq!(done.location.as_deref(), Some("/account"));
    assert_eq!(other.post("/logout", &[]).await.location.as_deref(), Some("/"));
    assert_eq!(other.get("/account").await.location.as_deref(), Some("/login?next=/account"));
}

#[tokio::test]
async fn names_and_nicknames_are_shown_as_text() {
    let site = Site::with_admin_root().await;
    let xss = "<script>alert(1)</script>";
    let mallory = site.account("mallory", "malpass", Some(xss)).await;
    let client = ClientInfo::new(Protocol::Mrim, "<b>agent</b>", None);
    let _session = site.core.login(mallory.clone(), xss.into(), client).await.unwrap();
    let mut admin = site.browser([10, 0, 2, 1]);
    admin.log_in("root", "rootpass").await;
    let dashboard = admin.get("/admin?q=mal").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let mut own = site.browser([10, 0, 2, 2]);
    own.log_in("mallory", "malpass").await;
    let account = own.get("/account").await;
    for page in [&dashboard.body, &account.body] {
        assert!(!page.contains(xss) && !page.contains("<b>agent"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    }
    assert!(dashboard.body.contains("&lt;b&gt;agent&lt;/b&gt;"), "the client's own words too");
}

#[tokio::test]
async fn operators_pages_are_for_administrators_only() {
    let site = Site::with_admin_root().await;
    site.account("bob", "bobpass", None).await;
    let mut anonymous = site.browser([10, 0, 3, 1]);
    assert_eq!(anonymous.get("/admin").await.location.as_deref(), Some("/login?next=/admin"));
    assert_eq!(anonymous.get("/admin/live").await.status, StatusCode::FORBIDDEN);
    let mut bob = site.browser([10, 0, 3, 2]);
    bob.log_in("bob", "bobpass").await;
    assert_eq!(bob.get("/admin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.get("/admin/live").await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.post("/admin/accounts/root/disable", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.post("/admin/broadcast", &[("text", "hi all")]).await.status, StatusCode::FORBIDDEN);
    let root = site.core.store().account_by_name(&AccountName::new("root").unwrap()).await.unwrap().unwrap();
    assert!(!site.core.store().is_disabled(root.id).await.unwrap());
    assert_eq!(bob.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_administrator_disables_enables_resets_and_broadcasts() {
    let site = Site::with_admin_root().await;
    let bob = site.account("bob", "bobpass", None).await;
    let mut bobs =
        site.core.login(bob.clone(), "bob".into(), ClientInfo::new(Protocol::Mrim, "test", None)).await.unwrap();
    let mut admin = site.browser([10, 0, 4, 1]);
    admin.log_in("root", "rootpass").await;
    let dashboard = admin.get("/admin").await;
    assert!(
        dashboard.body.contains("<h2>Online: 1</h2>") && dashboard.body.contains("Mail.Ru Agent"),
        "{}",
        dashboard.body
    );

    let done = admin.post("/admin/accounts/bob/disable", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(site.core.store().is_disabled(bob.id).await.unwrap());
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Err(reason) = bobs.next_event().await {
                return reason;
            }
        }
    });
    assert_eq!(ended.await.unwrap(), KickReason::LoggedInElsewhere);
    site.core.logout(&mut bobs).await.unwrap();
    let listed = admin.get(done.location.as_deref().unwrap()).await;
    assert!(listed.body.contains("bob is disabled") && listed.body.contains(">disabled<"), "{}", listed.body);
    assert_eq!(site.browser([10, 0, 4, 2]).log_in("bob", "bobpass").await.status, StatusCode::UNAUTHORIZED);

    admin.post("/admin/accounts/bob/enable", &[]).await;
    assert!(!site.core.store().is_disabled(bob.id).await.unwrap());
    let reset = admin.post("/admin/accounts/bob/password", &[]).await;
    let start = reset.body.find("<code id=\"new-password\">").unwrap() + "<code id=\"new-password\">".len();
    let password = &reset.body[start..start + 12];
    assert!(site.core.store().secrets(bob.id).await.unwrap().unwrap().accepts_password(password));

    let sent = admin.post("/admin/broadcast", &[("text", "maintenance at noon")]).await;
    assert_eq!(sent.location.as_deref(), Some("/admin?done=broadcast"));
    let waiting = site.core.store().unseen_broadcasts(bob.id, 10).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.message.text.as_str()).collect::<Vec<_>>(), ["maintenance at noon"]);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_the_old_password_fails() {
    let site = Site::with_admin_root().await;
    let carol = site.account("carol", "oldpass", None).await;
    let mut carols =
        site.core.login(carol.clone(), "carol".into(), ClientInfo::new(Protocol::Msn, "test", None)).await.unwrap();
    let mut here = site.browser([10, 0, 5, 1]);
    let mut there = site.browser([10, 0, 5, 2]);
    here.log_in("carol", "oldpass").await;
    there.log_in("carol", "oldpass").await;
    let wrong =
        here.post("/account/password", &[("current", "nope"), ("password", "newpass1"), ("again", "newpass1")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let done = here
        .post("/account/password", &[("current", "oldpass"), ("password", "newpass1"), ("again", "newpass1")])
        .await;
    assert_eq!(done.location.as_deref(), Some("/account?done=password"));
    let secrets = site.core.store().secrets(carol.id).await.unwrap().unwrap();
    assert!(secrets.accepts_password("newpass1") && !secrets.accepts_password("oldpass"));
    assert!(matches!(carols.next_event().await, Err(KickReason::LoggedInElsewhere)));
    site.core.logout(&mut carols).await.unwrap();
    assert_eq!(here.get("/account").await.status, StatusCode::OK, "this browser stays logged in");
    assert_eq!(there.get("/account").await.status, StatusCode::SEE_OTHER, "the other is logged out");
}

#[tokio::test]
async fn nickname_profile_and_deletion() {
    let site = Site::with_admin_root().await;
    let dave = site.account("dave", "davepass", None).await;
    let mut browser = site.browser([10, 0, 6, 1]);
    browser.log_in("dave", "davepass").await;
    assert_eq!(browser.post("/account/nickname", &[("nickname", "Дейв")]).await.status, StatusCode::SEE_OTHER);
    let stored = site.core.store().account_by_id(dave.id).await.unwrap().unwrap();
    assert_eq!(stored.nickname.as_deref(), Some("Дейв"));
    let profile = [
        ("first_name", "Dave"),
        ("last_name", ""),
        ("sex", "male"),
        ("birthday", "1990-02-28"),
        ("city", "Riga"),
        ("country", ""),
        ("location", ""),
        ("email", "d@example.org"),
        ("phone", ""),
        ("homepage", ""),
        ("occupation", ""),
        ("about", "hi"),
    ];
    assert_eq!(browser.post("/account/profile", &profile).await.status, StatusCode::SEE_OTHER);
    let saved = site.core.store().profile(dave.id).await.unwrap();
    assert_eq!(
        (saved.first_name.as_str(), saved.city.as_str(), saved.birthday.unwrap().to_string()),
        ("Dave", "Riga", "1990-02-28".into())
    );
    let mut bad = profile;
    bad[3] = ("birthday", "1990-02-30");
    assert_eq!(browser.post("/account/profile", &bad).await.status, StatusCode::BAD_REQUEST);

    let refused = browser.post("/account/delete", &[("confirm", "dav"), ("password", "davepass")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let deleted = browser.post("/account/delete", &[("confirm", "dave"), ("password", "davepass")]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(site.core.store().account_by_id(dave.id).await.unwrap().is_none());
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn metrics_health_and_readiness() {
    let site = Site::with_admin_root().await;
    let erin = site.account("erin", "erinpass", None).await;
    let _session = site.core.login(erin, "erin".into(), ClientInfo::new(Protocol::MyIcq, "test", None)).await.unwrap();
    let mut machine = site.browser([10, 0, 7, 1]);
    // Sessions come from the sampler's last second.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let metrics = loop {
        let metrics = machine.get("/metrics").await;
        assert_eq!(metrics.status, StatusCode::OK);
        if metrics.body.contains("switchyard_sessions{protocol=\"myicq\"} 1") {
            break metrics;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", metrics.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(metrics.body.contains("switchyard_logins_total{protocol=\"myicq\"} 1"));
    assert!(metrics.body.contains("switchyard_messages_total{from=\"msn\",to=\"offline\"} 0"));
    assert!(metrics.body.contains("process_resident_memory_bytes"));
    assert_eq!(machine.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(machine.get("/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE, "listeners not up yet");
    site.web.set_ready(true);
    assert_eq!(machine.get("/readyz").await.status, StatusCode::OK);
}
