//! The web site in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver, against a running server whose messengers are `yard` clients: sign up on the
//! page and log in over MRIM; the dashboard lists the session and its chart moves; disabling
//! ends the session and refuses logins, enabling lets them in again; a password change on the
//! account page makes the old password fail on MSN, MRIM and MyICQ; a nickname with a script in
//! it is shown as text. Screenshots of the pages land in `target/tmp/screenshots/`.
//!
//! Ignored where Chromium is not installed; `.ci/run` installs it and runs them.

mod common;

use common::TestServer;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use yard::{Account, Client, Disconnect, Event, Options, Protocol};

const PATIENCE: Duration = Duration::from_secs(15);

/// A chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed");
        Driver { child, port }
    }

    async fn browser(&self) -> Browser {
        let mut capabilities = serde_json::Map::new();
        let args =
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"];
        capabilities.insert("goog:chromeOptions".into(), serde_json::json!({ "args": args }));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let connected = ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match connected {
                Ok(browser) => return browser,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no browser session: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.web.name = "Yard Test Network".into();
        config.web.admins = vec!["root".into()];
    })
    .await
}

fn web(server: &TestServer) -> String {
    format!("http://{}", server.running().address("http").unwrap())
}

fn account(server: &TestServer, protocol: Protocol, handle: &str, password: &str) -> Account {
    server.yard_account(protocol, handle, password)
}

fn options() -> Options {
    Options { reconnect: false, timeout: Duration::from_secs(10), ..Options::default() }
}

async fn fill(browser: &Browser, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let field = browser.find(Locator::Css(&format!("[name='{name}']"))).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }
}

async fn submit(browser: &Browser, form_action: &str) {
    let button = format!("form[action='{form_action}'] button[type='submit']");
    browser.find(Locator::Css(&button)).await.unwrap().click().await.unwrap();
}

async fn text_of(browser: &Browser, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn log_in(browser: &Browser, site: &str, name: &str, password: &str) {
    browser.goto(&format!("{site}/login")).await.unwrap();
    fill(browser, &[("name", name), ("password", password)]).await;
    submit(browser, "/login").await;
    browser.wait().for_element(Locator::Css("form[action='/logout']")).await.unwrap();
}

async fn log_out(browser: &Browser) {
    submit(browser, "/logout").await;
    browser.wait().for_element(Locator::Css("a[href='/login']")).await.unwrap();
}

/// Waits until `check` holds on the page, polling.
async fn until_page(browser: &Browser, what: &str, check: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let source = browser.source().await.unwrap();
        if check(&source) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "never on the page: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ended(client: &mut Client) -> Disconnect {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match client.next_event().await {
                Some(Event::Disconnected { reason }) => return reason,
                Some(_) => continue,
                None => return Disconnect::ServerClosed,
            }
        }
    })
    .await
    .expect("the session ends in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver; .ci/run installs them and runs it"]
async fn sign_up_watch_disable_enable_and_change_the_password_in_a_browser() {
    let server = server().await;
    server.add_user("root", "rootpass", Some("Operator")).await;
    let site = web(&server);
    let driver = Driver::start();
    let browser = driver.browser().await;

    browser.goto(&site).await.unwrap();
    screenshot(&browser, "front-page").await;
    assert_eq!(text_of(&browser, ".brand").await, "Yard Test Network");

    // Sign up on the page: it shows the handles of every protocol.
    browser.goto(&format!("{site}/signup")).await.unwrap();
    fill(&browser, &[("name", "walter"), ("nickname", "Walter W"), ("password", "first-pw"), ("again", "first-pw")])
        .await;
    screenshot(&browser, "signup-form").await;
    submit(&browser, "/signup").await;
    browser.wait().for_element(Locator::Css("#mrim-handle")).await.unwrap();
    assert_eq!(text_of(&browser, "#mrim-handle").await, "walter@mail.ru");
    assert_eq!(text_of(&browser, "#msn-handle").await, "walter@hotmail.com");
    let uin = text_of(&browser, "#myicq-uin").await;
    screenshot(&browser, "signup-done").await;

    // That account logs in over MRIM.
    let mut walter = Client::connect(account(&server, Protocol::Mrim, "walter@mail.ru", "first-pw"), options())
        .await
        .expect("the new account logs in over MRIM");

    // The operator's dashboard lists the session, and its sessions chart follows.
    log_out(&browser).await;
    log_in(&browser, &site, "root", "rootpass").await;
    browser.goto(&format!("{site}/admin")).await.unwrap();
    until_page(&browser, "walter in the online table", |page| page.contains("<td>walter")).await;
    let samples = |browser: &Browser| {
        let browser = browser.clone();
        async move {
            let chart = browser.find(Locator::Css("#chart-sessions")).await.unwrap();
            chart.attr("data-samples").await.unwrap().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0)
        }
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let first = loop {
        let n = samples(&browser).await;
        if n > 0 {
            break n;
        }
        assert!(tokio::time::Instant::now() < deadline, "the chart never drew");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(samples(&browser).await > first, "the chart moves with new samples");
    let legend = text_of(&browser, "#chart-sessions .legend").await;
    assert!(legend.contains("Mail.Ru 1"), "{legend}");
    // Read in one step: the script redraws its lines every second.
    let points = browser
        .execute("return document.querySelector('#chart-sessions polyline').getAttribute('points')", vec![])
        .await
        .unwrap();
    assert!(points.as_str().is_some_and(|p| !p.is_empty()), "{points}");
    screenshot(&browser, "dashboard").await;
    browser.set_window_size(390, 844).await.unwrap();
    screenshot(&browser, "dashboard-phone").await;
    browser.set_window_size(1280, 900).await.unwrap();

    // Disabled: the MRIM session ends at once, and a new login is refused.
    browser.goto(&format!("{site}/admin?q=walter")).await.unwrap();
    submit(&browser, "/admin/accounts/walter/disable").await;
    until_page(&browser, "the account disabled", |page| page.contains("walter is disabled")).await;
    assert_eq!(ended(&mut walter).await, Disconnect::LoggedInElsewhere);
    // The numbers above the charts follow: no Mail.Ru session is left.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while text_of(&browser, "[data-field='sessions.1']").await != "0" {
        assert!(tokio::time::Instant::now() < deadline, "the session count never fell");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refused = Client::connect(account(&server, Protocol::Mrim, "walter@mail.ru", "first-pw"), options()).await;
    assert!(refused.is_err(), "a disabled account cannot log in");
    screenshot(&browser, "dashboard-disabled").await;

    // Enabled: it logs in again.
    submit(&browser, "/admin/accounts/walter/enable").await;
    until_page(&browser, "the account enabled", |page| page.contains("walter may log in again")).await;
    let again = Client::connect(account(&server, Protocol::Mrim, "walter@mail.ru", "first-pw"), options())
        .await
        .expect("an enabled account logs in");
    drop(again);

    // A password change on the account page: the old password fails everywhere.
    log_out(&browser).await;
    log_in(&browser, &site, "walter", "first-pw").await;
    browser.goto(&format!("{site}/account")).await.unwrap();
    screenshot(&browser, "account").await;
    fill(&browser, &[("current", "first-pw"), ("password", "second-pw"), ("again", "second-pw")]).await;
    submit(&browser, "/account/password").await;
    until_page(&browser, "the password changed", |page| page.contains("Your password is changed")).await;
    for (protocol, handle) in
        [(Protocol::Msn, "walter@hotmail.com"), (Protocol::Mrim, "walter@mail.ru"), (Protocol::MyIcq, uin.as_str())]
    {
        let old = Client::connect(account(&server, protocol, handle, "first-pw"), options()).await;
        assert!(old.is_err(), "the old password still works on {protocol:?}");
        Client::connect(account(&server, protocol, handle, "second-pw"), options())
            .await
            .unwrap_or_else(|e| panic!("the new password fails on {protocol:?}: {e}"));
    }
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver; .ci/run installs them and runs it"]
async fn a_script_in_a_nickname_set_over_mrim_is_shown_as_text() {
    let server = server().await;
    server.add_user("root", "rootpass", None).await;
    let script = "<script>alert(1)</script>";
    server.add_user("mallory", "malpass", Some(script)).await;
    let site = web(&server);
    let _mallory =
        Client::connect(account(&server, Protocol::Mrim, "mallory@mail.ru", "malpass"), options()).await.unwrap();
    let driver = Driver::start();
    let browser = driver.browser().await;
    log_in(&browser, &site, "root", "rootpass").await;
    for page in ["/admin", "/admin?q=mall"] {
        browser.goto(&format!("{site}{page}")).await.unwrap();
        until_page(&browser, "mallory listed", |page| page.contains("mallory")).await;
        let body = text_of(&browser, "main").await;
        assert!(body.contains(script), "the nickname is shown as it is: {body}");
        assert!(browser.get_alert_text().await.is_err(), "no script ran");
    }
    screenshot(&browser, "nickname-as-text").await;
    log_out(&browser).await;
    log_in(&browser, &site, "mallory", "malpass").await;
    browser.goto(&format!("{site}/account")).await.unwrap();
    let nickname = browser.find(Locator::Css("input[name='nickname']")).await.unwrap();
    assert_eq!(nickname.prop("value").await.unwrap().as_deref(), Some(script));
    assert!(browser.get_alert_text().await.is_err(), "no script ran");
    browser.close().await.unwrap();
}
