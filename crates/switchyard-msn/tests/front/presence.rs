use crate::support::{online, three_users, Client};

#[tokio::test]
async fn watchers_follow_state_changes_and_get_iln_after_their_first_chg() {
    let server = three_users().await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice
        .exchange(&[
            ("ADD 6 FL bob@hotmail.com Bob", "ADD 6 FL 2 bob@hotmail.com Bob"),
            ("ADD 7 FL carol@hotmail.com Carol", "ADD 7 FL 3 carol@hotmail.com Carol"),
        ])
        .await;

    let mut bob = online(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    alice.expect("NLN NLN bob@hotmail.com bob@hotmail.com").await;
    for state in ["BSY", "IDL", "BRB", "AWY", "PHN", "LUN"] {
        bob.send(&format!("CHG 6 {state}")).await;
        bob.expect(&format!("CHG 6 {state}")).await;
        alice.expect(&format!("NLN {state} bob@hotmail.com bob@hotmail.com")).await;
    }

    // Hidden users look offline: going hidden is announced as FLN, hidden logins not at all.
    let mut carol = Client::login(server.msn(), "carol@hotmail.com", "pw", "Carol").await;
    carol.send("CHG 5 HDN").await;
    carol.expect("CHG 5 HDN").await;
    alice.expect_nothing_pending(8).await;
    carol.send("CHG 6 NLN").await;
    carol.expect("CHG 6 NLN").await;
    alice.expect("NLN NLN carol@hotmail.com Carol").await;
    carol.send("CHG 7 HDN").await;
    carol.expect("CHG 7 HDN").await;
    alice.expect("FLN carol@hotmail.com").await;
    carol.send("CHG 8 NLN").await;
    carol.expect("CHG 8 NLN").await;
    alice.expect("NLN NLN carol@hotmail.com Carol").await;

    // A new login of alice gets one ILN per visible contact, with the CHG's trid.
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send("CHG 9 NLN").await;
    alice.expect("CHG 9 NLN").await;
    alice.expect("ILN 9 LUN bob@hotmail.com bob@hotmail.com").await;
    alice.expect("ILN 9 NLN carol@hotmail.com Carol").await;

    carol.send("OUT").await;
    carol.expect_closed().await;
    alice.expect("FLN carol@hotmail.com").await;
    // A connection that just vanishes is announced too.
    drop(bob);
    alice.expect("FLN bob@hotmail.com").await;
}

#[tokio::test]
async fn adding_an_online_contact_answers_with_its_iln() {
    let server = three_users().await;
    let _bob = online(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send("ADD 6 FL bob@hotmail.com Bob").await;
    alice.expect("ADD 6 FL 2 bob@hotmail.com Bob").await;
    alice.expect("ILN 6 NLN bob@hotmail.com bob@hotmail.com").await;
    alice.send("ADD 7 FL carol@hotmail.com Carol").await;
    alice.expect("ADD 7 FL 3 carol@hotmail.com Carol").await;
    alice.expect_nothing_pending(8).await;
}

#[tokio::test]
async fn block_list_and_privacy_mode_hide_the_user() {
    let server = three_users().await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send("ADD 6 FL bob@hotmail.com Bob").await;
    alice.expect("ADD 6 FL 2 bob@hotmail.com Bob").await;
    let mut bob = online(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    alice.expect("NLN NLN bob@hotmail.com bob@hotmail.com").await;

    bob.send("ADD 6 BL alice@hotmail.com Alice").await;
    bob.expect("ADD 6 BL 3 alice@hotmail.com Alice").await;
    alice.expect("FLN bob@hotmail.com").await;
    bob.send("CHG 7 BSY").await;
    bob.expect("CHG 7 BSY").await;
    alice.expect_nothing_pending(7).await;
    bob.send("REM 8 BL alice@hotmail.com").await;
    bob.expect("REM 8 BL 4 alice@hotmail.com").await;
    alice.expect("NLN BSY bob@hotmail.com bob@hotmail.com").await;

    // BLP BL: only the allow list sees bob.
    bob.send("BLP 9 BL").await;
    bob.expect("BLP 9 5 BL").await;
    alice.expect("FLN bob@hotmail.com").await;
    bob.send("ADD 10 AL alice@hotmail.com Alice").await;
    bob.expect("ADD 10 AL 6 alice@hotmail.com Alice").await;
    alice.expect("NLN BSY bob@hotmail.com bob@hotmail.com").await;
    bob.send("BLP 11 AL").await;
    bob.expect("BLP 11 7 AL").await;
    alice.expect_nothing_pending(8).await;

    // A blocked watcher logging in later gets no ILN for the blocker.
    bob.send("ADD 12 BL carol@hotmail.com Carol").await;
    bob.expect("ADD 12 BL 8 carol@hotmail.com Carol").await;
    let mut carol = Client::login(server.msn(), "carol@hotmail.com", "pw", "Carol").await;
    carol
        .exchange(&[("ADD 5 FL bob@hotmail.com Bob", "ADD 5 FL 2 bob@hotmail.com Bob"), ("CHG 6 NLN", "CHG 6 NLN")])
        .await;
    carol.expect_nothing_pending(7).await;
}

#[tokio::test]
async fn a_user_in_fln_state_receives_no_notifications() {
    let server = three_users().await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice
        .exchange(&[("ADD 6 FL bob@hotmail.com Bob", "ADD 6 FL 2 bob@hotmail.com Bob"), ("CHG 7 FLN", "CHG 7 FLN")])
        .await;
    let _bob = online(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    alice.expect_nothing_pending(8).await;
    alice.send("CHG 9 NLN").await;
    alice.expect("CHG 9 NLN").await;
    alice.expect("ILN 9 NLN bob@hotmail.com bob@hotmail.com").await;
}
