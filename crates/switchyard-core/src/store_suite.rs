//! The conformance suite every [`Store`] implementation must pass. Call [`run`] on an empty store.

use crate::account::{AccountId, AccountName};
use crate::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use crate::store::{MessageKind, OfflineMessage, Store, StoreError};

fn name(s: &str) -> AccountName {
    AccountName::new(s).expect("valid test name")
}

pub async fn run(store: &dyn Store) {
    accounts(store).await;
    settings(store).await;
    relations(store).await;
    groups(store).await;
    profiles_and_search(store).await;
    offline_queue(store).await;
    broadcasts(store).await;
    numbered_accounts(store).await;
    deletion_cascades(store).await;
}

async fn accounts(store: &dyn Store) {
    let alice = store.create_account(&name("alice"), "pw-a", Some("Alice")).await.unwrap();
    let bob = store.create_account(&name("bob"), "pw-b", None).await.unwrap();
    assert_eq!(alice.uin, 10001);
    assert_eq!(bob.uin, 10002);
    assert_eq!(alice.nickname.as_deref(), Some("Alice"));
    assert!(matches!(store.create_account(&name("alice"), "x", None).await, Err(StoreError::NameTaken(_))));
    assert_eq!(store.account_by_name(&name("alice")).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.account_by_id(bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.account_by_name(&name("nobody")).await.unwrap(), None);
    assert_eq!(store.account_by_uin(10002).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.account_by_uin(9999).await.unwrap(), None);
    assert_eq!(store.account_by_uin(10100).await.unwrap(), None);
    store.set_nickname(bob.id, Some("Бобби")).await.unwrap();
    assert_eq!(store.account_by_id(bob.id).await.unwrap().unwrap().nickname.as_deref(), Some("Бобби"));
    store.set_nickname(bob.id, None).await.unwrap();
    assert_eq!(store.account_by_uin(10002).await.unwrap(), Some(bob.clone()));
    let before = store.secrets(alice.id).await.unwrap().unwrap();
    assert!(before.accepts_password("pw-a") && !before.accepts_password("pw-b"));
    store.set_password(alice.id, "new").await.unwrap();
    let after = store.secrets(alice.id).await.unwrap().unwrap();
    assert!(after.accepts_password("new") && !after.accepts_password("pw-a"));
    assert_ne!(after.salt, before.salt, "a new password gets a new salt");
    assert_eq!(store.secrets(AccountId(i64::MAX)).await.unwrap(), None);
    let (account, secrets) = store.account_with_secrets(&name("alice")).await.unwrap().unwrap();
    assert_eq!((account, secrets), (alice.clone(), after));
    assert_eq!(store.account_with_secrets(&name("nobody")).await.unwrap(), None);
    let names: Vec<_> = store.accounts().await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, vec![name("alice"), name("bob")]);
    let found = |fragment: &'static str, limit| async move {
        let found = store.find_accounts(fragment, limit).await.unwrap();
        found.into_iter().map(|a| a.name.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(found("li", 10).await, ["alice"]);
    assert_eq!(found("", 10).await, ["alice", "bob"]);
    assert_eq!(found("", 1).await, ["alice"]);
    assert!(found("%", 10).await.is_empty(), "LIKE's wildcards match only themselves");
    assert!(found("_", 10).await.is_empty());

    // A disabled account is still there, but gives out no secrets: it cannot log in.
    assert!(!store.is_disabled(bob.id).await.unwrap());
    assert!(store.set_disabled(bob.id, true).await.unwrap());
    assert!(store.is_disabled(bob.id).await.unwrap());
    assert_eq!(store.secrets(bob.id).await.unwrap(), None);
    assert_eq!(store.account_with_secrets(&name("bob")).await.unwrap(), None);
    assert_eq!(store.account_by_name(&name("bob")).await.unwrap(), Some(bob.clone()));
    assert!(store.secrets(alice.id).await.unwrap().is_some(), "only bob is disabled");
    assert!(store.set_disabled(bob.id, false).await.unwrap());
    assert!(store.secrets(bob.id).await.unwrap().unwrap().accepts_password("pw-b"));
    assert!(!store.set_disabled(AccountId(i64::MAX), true).await.unwrap());
    assert!(!store.is_disabled(AccountId(i64::MAX)).await.unwrap());
}

async fn settings(store: &dyn Store) {
    let carol = store.create_account(&name("carol"), "pw", None).await.unwrap();
    let initial = store.list_settings(carol.id).await.unwrap();
    assert_eq!((initial.version, initial.privacy, initial.prompt), (1, Privacy::AllowUnlisted, ReverseListPrompt::Ask));
    assert_eq!(initial.add_policy, AddPolicy::Anyone);
    assert_eq!(store.set_privacy(carol.id, Privacy::BlockUnlisted).await.unwrap(), 2);
    assert_eq!(store.set_prompt(carol.id, ReverseListPrompt::AllowAutomatically).await.unwrap(), 3);
    let now = store.list_settings(carol.id).await.unwrap();
    assert_eq!(
        (now.version, now.privacy, now.prompt),
        (3, Privacy::BlockUnlisted, ReverseListPrompt::AllowAutomatically)
    );
    assert_eq!(store.set_add_policy(carol.id, AddPolicy::AskFirst).await.unwrap(), 4);
    assert_eq!(store.list_settings(carol.id).await.unwrap().add_policy, AddPolicy::AskFirst);
    store.set_add_policy(carol.id, AddPolicy::Nobody).await.unwrap();
    assert_eq!(store.list_settings(carol.id).await.unwrap().add_policy, AddPolicy::Nobody);
}

async fn relations(store: &dyn Store) {
    let dave = store.create_account(&name("dave"), "pw", None).await.unwrap();
    let erin = store.create_account(&name("erin"), "pw", Some("Erin")).await.unwrap();
    let fay = store.create_account(&name("fay"), "pw", None).await.unwrap();

    let v = store.set_relation(dave.id, erin.id, RelationFlags::FORWARD, Some("E")).await.unwrap();
    assert_eq!((v.owner, v.target), (2, Some(2)), "forward changes the target's reverse list too");
    let v = store.set_relation(dave.id, erin.id, RelationFlags::FORWARD | RelationFlags::ALLOW, None).await.unwrap();
    assert_eq!((v.owner, v.target), (3, None), "allow does not touch the target");
    store.set_relation(fay.id, dave.id, RelationFlags::BLOCK, Some("Dave")).await.unwrap();

    let mine = store.relations(dave.id).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].other.name, name("erin"));
    assert_eq!(mine[0].other.nickname.as_deref(), Some("Erin"));
    assert_eq!(mine[0].display_name, "E", "a None display name keeps the old one");
    assert_eq!(mine[0].flags, RelationFlags::FORWARD | RelationFlags::ALLOW);
    assert_eq!(mine[0].their_flags, RelationFlags::NONE);
    assert_eq!(mine[1].other.name, name("fay"));
    assert_eq!((mine[1].flags, mine[1].their_flags), (RelationFlags::NONE, RelationFlags::BLOCK));
    assert_eq!(mine[0].their_privacy, Privacy::AllowUnlisted);
    store.set_privacy(erin.id, Privacy::BlockUnlisted).await.unwrap();
    assert_eq!(store.relations(dave.id).await.unwrap()[0].their_privacy, Privacy::BlockUnlisted);

    let both = (store.list_settings(dave.id).await.unwrap(), store.relations(dave.id).await.unwrap());
    assert_eq!(store.contact_list(dave.id).await.unwrap(), both);
    let lonely = store.create_account(&name("lonely"), "pw", None).await.unwrap();
    assert_eq!(store.contact_list(lonely.id).await.unwrap(), (store.list_settings(lonely.id).await.unwrap(), vec![]));
    assert!(store.contact_list(AccountId(i64::MAX)).await.is_err(), "no such account");

    let theirs = store.relations(erin.id).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].their_flags, RelationFlags::FORWARD | RelationFlags::ALLOW);
    assert_eq!(store.relation_flags(fay.id, dave.id).await.unwrap(), RelationFlags::BLOCK);
    assert_eq!(store.count_with_flag(dave.id, RelationFlags::FORWARD).await.unwrap(), 1);
    assert_eq!(store.count_with_flag(dave.id, RelationFlags::BLOCK).await.unwrap(), 0);

    let v = store.set_relation(dave.id, erin.id, RelationFlags::NONE, None).await.unwrap();
    assert_eq!((v.owner, v.target), (4, Some(4)));
    assert_eq!(store.relation_flags(dave.id, erin.id).await.unwrap(), RelationFlags::NONE);
    assert!(store.relations(erin.id).await.unwrap().is_empty(), "an empty relation is removed");

    // A relation with rows on both sides is one entry; the list is in name order, not id order.
    let abe = store.create_account(&name("abe"), "pw", None).await.unwrap();
    store.set_relation(dave.id, abe.id, RelationFlags::FORWARD, None).await.unwrap();
    store.set_relation(abe.id, dave.id, RelationFlags::FORWARD | RelationFlags::ALLOW, None).await.unwrap();
    let mine = store.relations(dave.id).await.unwrap();
    let names: Vec<&str> = mine.iter().map(|r| r.other.name.as_str()).collect();
    assert_eq!(names, ["abe", "fay"]);
    assert_eq!(
        (mine[0].flags, mine[0].their_flags),
        (RelationFlags::FORWARD, RelationFlags::FORWARD | RelationFlags::ALLOW)
    );
}

async fn groups(store: &dyn Store) {
    let kim = store.create_account(&name("kim"), "pw", None).await.unwrap();
    let lee = store.create_account(&name("lee"), "pw", None).await.unwrap();
    assert!(store.groups(kim.id).await.unwrap().is_empty());
    let (friends, v) = store.create_group(kim.id, "Friends").await.unwrap();
    assert_eq!(v, 2);
    let (work, _) = store.create_group(kim.id, "Работа").await.unwrap();
    assert_eq!(store.groups(kim.id).await.unwrap(), vec![friends.clone(), work.clone()], "creation order");
    let (settings, relations, groups) = store.contact_list_with_groups(kim.id).await.unwrap();
    assert_eq!((settings, relations), store.contact_list(kim.id).await.unwrap());
    assert_eq!(groups, vec![friends.clone(), work.clone()], "the list's groups in creation order");
    let (_, relations, groups) = store.contact_list_with_groups(lee.id).await.unwrap();
    assert!(relations.is_empty() && groups.is_empty());
    assert!(store.contact_list_with_groups(AccountId(i64::MAX)).await.is_err(), "no such account");
    assert_eq!(store.rename_group(kim.id, work.id, "Work").await.unwrap(), Some(4));
    assert_eq!(store.rename_group(lee.id, work.id, "x").await.unwrap(), None, "only one's own groups");

    store.set_relation(kim.id, lee.id, RelationFlags::FORWARD, Some("lee")).await.unwrap();
    store.set_contact_groups(kim.id, lee.id, &[work.id, friends.id]).await.unwrap();
    assert_eq!(store.relations(kim.id).await.unwrap()[0].groups, vec![friends.id, work.id]);
    store.set_contact_groups(kim.id, lee.id, &[work.id]).await.unwrap();
    assert_eq!(store.relations(kim.id).await.unwrap()[0].groups, vec![work.id]);
    assert!(store.relations(lee.id).await.unwrap()[0].groups.is_empty(), "groups are the owner's view");

    assert!(store.delete_group(kim.id, work.id).await.unwrap().is_some());
    assert_eq!(store.delete_group(kim.id, work.id).await.unwrap(), None);
    assert_eq!(store.groups(kim.id).await.unwrap(), vec![friends.clone()]);
    let relations = store.relations(kim.id).await.unwrap();
    assert!(relations[0].groups.is_empty() && relations[0].flags.contains(RelationFlags::FORWARD), "the contact stays");
    let (settings, relations, groups) = store.contact_list_with_groups(kim.id).await.unwrap();
    assert_eq!((settings, relations), store.contact_list(kim.id).await.unwrap(), "with relations");
    assert_eq!(groups, vec![friends.clone()]);

    // Removing the contact forgets its memberships.
    store.set_contact_groups(kim.id, lee.id, &[friends.id]).await.unwrap();
    store.set_relation(kim.id, lee.id, RelationFlags::NONE, None).await.unwrap();
    store.set_relation(kim.id, lee.id, RelationFlags::FORWARD, Some("lee")).await.unwrap();
    assert!(store.relations(kim.id).await.unwrap()[0].groups.is_empty());

    // The default group comes once, with a new list version, and only to an owner without any.
    assert_eq!(store.groups_or_default(kim.id, "General").await.unwrap(), vec![friends]);
    let before = store.list_settings(lee.id).await.unwrap().version;
    let general = store.groups_or_default(lee.id, "General").await.unwrap();
    assert_eq!(general.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["General"]);
    assert_eq!(store.list_settings(lee.id).await.unwrap().version, before + 1);
    assert_eq!(store.groups_or_default(lee.id, "General").await.unwrap(), general);
    assert_eq!(store.groups(lee.id).await.unwrap(), general);
    assert_eq!(store.list_settings(lee.id).await.unwrap().version, before + 1);
}

async fn profiles_and_search(store: &dyn Store) {
    use crate::profile::{Date, Profile, SearchQuery, Sex, TextMatch};
    let ivan = store.create_account(&name("ivan"), "pw", Some("Ванёк")).await.unwrap();
    let maria = store.create_account(&name("maria"), "pw", Some("Маша")).await.unwrap();
    assert_eq!(store.profile(ivan.id).await.unwrap(), Profile::default());
    let ivan_profile = Profile {
        first_name: "Иван".into(),
        last_name: "Петров".into(),
        sex: Sex::Male,
        birthday: Date::parse("1990-03-25"),
        city_id: 495,
        country_id: 24,
        location: "Москва".into(),
        country: "Россия".into(),
        province: "Московская".into(),
        city: "Москва".into(),
        address: "ул. Тверская, 1".into(),
        zipcode: "125009".into(),
        email: "Ivan@Example.org".into(),
        phone: "+7 495 000-00-00".into(),
        homepage: "http://ivan.example.org/".into(),
        about: "Пишу на Rust".into(),
        school: "МГУ".into(),
        occupation: "инженер".into(),
        blood_type: 2,
        face: 17,
        age: Some(35),
    };
    store.set_profile(ivan.id, &ivan_profile).await.unwrap();
    assert_eq!(store.profile(ivan.id).await.unwrap(), ivan_profile);
    let maria_profile = Profile {
        first_name: "Мария".into(),
        sex: Sex::Female,
        birthday: Date::parse("1985-12-30"),
        city_id: 812,
        country_id: 24,
        ..Profile::default()
    };
    store.set_profile(maria.id, &maria_profile).await.unwrap();

    let names =
        |found: Vec<(crate::Account, Profile)>| found.into_iter().map(|(a, _)| a.name.to_string()).collect::<Vec<_>>();
    let search = |query: SearchQuery| async move { names(store.search(&query, 10).await.unwrap()) };
    assert_eq!(search(SearchQuery { country_id: Some(24), ..Default::default() }).await, ["ivan", "maria"]);
    assert_eq!(search(SearchQuery { name: Some(name("maria")), ..Default::default() }).await, ["maria"]);
    let prefix = |t: &str| Some(TextMatch::Prefix(t.into()));
    assert_eq!(search(SearchQuery { first_name: prefix("ив"), ..Default::default() }).await, ["ivan"]);
    assert_eq!(search(SearchQuery { nickname: prefix("МА"), ..Default::default() }).await, ["maria"]);
    assert_eq!(
        search(SearchQuery { last_name: Some(TextMatch::Exact("петров".into())), ..Default::default() }).await,
        ["ivan"]
    );
    assert!(search(SearchQuery { last_name: Some(TextMatch::Exact("петр".into())), ..Default::default() })
        .await
        .is_empty());
    assert_eq!(search(SearchQuery { sex: Some(Sex::Female), ..Default::default() }).await, ["maria"]);
    let born = |d: &str| Date::parse(d);
    assert_eq!(search(SearchQuery { born_from: born("1988-01-01"), ..Default::default() }).await, ["ivan"]);
    assert_eq!(search(SearchQuery { born_until: born("1988-01-01"), ..Default::default() }).await, ["maria"]);
    // A window across the year end (Capricorn) and one inside the year (Aries).
    assert_eq!(search(SearchQuery { birthday_window: Some((1222, 119)), ..Default::default() }).await, ["maria"]);
    assert_eq!(search(SearchQuery { birthday_window: Some((321, 419)), ..Default::default() }).await, ["ivan"]);
    assert_eq!(
        search(SearchQuery { birth_month: Some(12), birth_day: Some(30), ..Default::default() }).await,
        ["maria"]
    );
    assert_eq!(
        search(SearchQuery { city_id: Some(495), sex: Some(Sex::Female), ..Default::default() }).await,
        Vec::<String>::new()
    );
    assert_eq!(store.search(&SearchQuery { country_id: Some(24), ..Default::default() }, 1).await.unwrap().len(), 1);
    // A disabled account is found by nobody.
    store.set_disabled(maria.id, true).await.unwrap();
    assert_eq!(search(SearchQuery { country_id: Some(24), ..Default::default() }).await, ["ivan"]);
    store.set_disabled(maria.id, false).await.unwrap();
    let email = Some(TextMatch::Exact("ivan@example.org".into()));
    assert_eq!(search(SearchQuery { email: email.clone(), ..Default::default() }).await, ["ivan"]);
    let after_ivan = SearchQuery { uin_above: Some(ivan.uin), country_id: Some(24), ..Default::default() };
    assert_eq!(search(after_ivan).await, ["maria"], "results come in UIN order and page by UIN");
    assert!(search(SearchQuery { uin_above: Some(ivan.uin), email, ..Default::default() }).await.is_empty());
}

async fn offline_queue(store: &dyn Store) {
    let gus = store.create_account(&name("gus"), "pw", None).await.unwrap();
    let hal = store.create_account(&name("hal"), "pw", None).await.unwrap();
    let message = |text: &str, kind| OfflineMessage {
        sender: hal.id,
        recipient: gus.id,
        kind,
        text: text.to_owned(),
        sent_at: 1_000_000,
    };
    let before = store.offline_total().await.unwrap();
    let first = store.enqueue_offline(&message("one", MessageKind::Text)).await.unwrap();
    let second = store.enqueue_offline(&message("два", MessageKind::AuthorizationRequest)).await.unwrap();
    assert_eq!(store.offline_total().await.unwrap(), before + 2);
    let queued = store.offline_messages(gus.id).await.unwrap();
    assert_eq!(store.offline_count(gus.id).await.unwrap(), 2);
    assert_eq!(store.offline_count(hal.id).await.unwrap(), 0);
    assert_eq!(queued.iter().map(|m| m.id).collect::<Vec<_>>(), vec![first, second]);
    assert_eq!(queued[1].message, message("два", MessageKind::AuthorizationRequest));
    assert!(!store.delete_offline(hal.id, first).await.unwrap(), "only the recipient's own messages");
    assert!(store.delete_offline(gus.id, first).await.unwrap());
    assert!(!store.delete_offline(gus.id, first).await.unwrap());
    assert_eq!(store.offline_messages(gus.id).await.unwrap().len(), 1);

    // The journal's batch: new messages in order, deletions of the recipient's own only, and
    // no row for an account that no longer exists.
    let ghost = OfflineMessage { recipient: AccountId(999_999), ..message("to nobody", MessageKind::Text) };
    let new = vec![message("three", MessageKind::Text), ghost, message("four", MessageKind::Text)];
    let ids = store.update_queue(new, vec![(gus.id, second), (hal.id, first)]).await.unwrap();
    assert!(ids[0].is_some() && ids[1].is_none() && ids[2] > ids[0], "{ids:?}");
    let texts: Vec<String> =
        store.offline_messages(gus.id).await.unwrap().into_iter().map(|m| m.message.text).collect();
    assert_eq!(texts, ["three", "four"]);
    assert!(store.offline_messages(AccountId(999_999)).await.unwrap().is_empty());
}

async fn broadcasts(store: &dyn Store) {
    let admin = store.create_account(&name("admin"), "pw", None).await.unwrap();
    let early = store.create_account(&name("early"), "pw", None).await.unwrap();
    assert!(store.unseen_broadcasts(early.id, 8).await.unwrap().is_empty());
    let first = store.add_broadcast(admin.id, MessageKind::Broadcast, "one", 10).await.unwrap();
    let second = store.add_broadcast(admin.id, MessageKind::Text, "two", 20).await.unwrap();
    assert!(second > first);
    let unseen = store.unseen_broadcasts(early.id, 8).await.unwrap();
    assert_eq!(unseen.iter().map(|b| b.id).collect::<Vec<_>>(), [first, second]);
    assert_eq!(
        unseen[1].message,
        OfflineMessage {
            sender: admin.id,
            recipient: early.id,
            kind: MessageKind::Text,
            text: "two".into(),
            sent_at: 20
        }
    );
    assert_eq!(store.unseen_broadcasts(early.id, 1).await.unwrap()[0].id, second, "the newest when limited");
    let queued =
        OfflineMessage { sender: admin.id, recipient: early.id, kind: MessageKind::Text, text: "q".into(), sent_at: 5 };
    let queued = store.enqueue_offline(&queued).await.unwrap();
    let (offline, broadcasts) = store.waiting_messages(early.id, 8).await.unwrap();
    assert_eq!(offline, store.offline_messages(early.id).await.unwrap());
    assert_eq!(offline.iter().map(|m| m.id).collect::<Vec<_>>(), [queued]);
    assert_eq!(broadcasts, unseen, "both kinds from one read");
    assert_eq!(
        store.waiting_messages(early.id, 1).await.unwrap().1,
        store.unseen_broadcasts(early.id, 1).await.unwrap()
    );
    assert_eq!(store.waiting_messages(admin.id, 8).await.unwrap().0, vec![], "each recipient's own queue");
    store.mark_broadcasts_seen(early.id, first).await.unwrap();
    assert_eq!(store.unseen_broadcasts(early.id, 8).await.unwrap()[0].id, second);
    store.mark_broadcasts_seen(early.id, second).await.unwrap();
    store.mark_broadcasts_seen(early.id, first).await.unwrap();
    assert!(store.unseen_broadcasts(early.id, 8).await.unwrap().is_empty(), "a mark never moves back");
    let late = store.create_account(&name("late"), "pw", None).await.unwrap();
    assert!(store.unseen_broadcasts(late.id, 8).await.unwrap().is_empty(), "new accounts start past them");
}

async fn numbered_accounts(store: &dyn Store) {
    let first = store.create_numbered_account("secret").await.unwrap();
    assert_eq!(first.name.as_str(), first.uin.to_string());
    assert!(store.secrets(first.id).await.unwrap().unwrap().accepts_password("secret"));
    // A name of digits only would be another account's number: nobody may choose one.
    let number = name(&(first.uin + 1).to_string());
    assert!(matches!(store.create_account(&number, "pw", None).await, Err(StoreError::NumericName(n)) if n == number));
    let second = store.create_numbered_account("pw").await.unwrap();
    assert_eq!((second.uin, second.name.as_str()), (first.uin + 1, number.as_str()));
    assert_eq!(store.account_by_uin(second.uin).await.unwrap(), Some(second));
}

async fn deletion_cascades(store: &dyn Store) {
    let ivy = store.create_account(&name("ivy"), "pw", None).await.unwrap();
    let jon = store.create_account(&name("jon"), "pw", None).await.unwrap();
    store.set_relation(jon.id, ivy.id, RelationFlags::FORWARD, Some("ivy")).await.unwrap();
    store
        .enqueue_offline(&OfflineMessage {
            sender: jon.id,
            recipient: ivy.id,
            kind: MessageKind::Text,
            text: "x".into(),
            sent_at: 1,
        })
        .await
        .unwrap();
    assert!(store.delete_account(ivy.id).await.unwrap());
    assert!(!store.delete_account(ivy.id).await.unwrap());
    assert!(store.relations(jon.id).await.unwrap().is_empty());
    assert!(store.offline_messages(ivy.id).await.unwrap().is_empty());
    let again = store.create_account(&name("ivy"), "pw", None).await.unwrap();
    assert!(again.uin > jon.uin, "UINs are never reused");
}

/// What several writers on different connections (or nodes) can break. `a` and `b` are two
/// handles on one empty store, each with connections of its own where the store has them.
pub async fn run_concurrent(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    list_changes_from_two_writers(a.clone(), b.clone()).await;
    one_acknowledgement_deletes_once(a.clone(), b.clone()).await;
    concurrent_creation_never_shares_a_uin(a, b).await;
}

/// Spawns `work(store, i)` for i in 0..n on alternate stores and waits for every result.
async fn on_both<T: Send + 'static, F>(
    a: &std::sync::Arc<dyn Store>,
    b: &std::sync::Arc<dyn Store>,
    n: usize,
    work: impl Fn(std::sync::Arc<dyn Store>, usize) -> F,
) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(work(if i % 2 == 0 { a.clone() } else { b.clone() }, i))).collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("task panicked"));
    }
    results
}

async fn list_changes_from_two_writers(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    const CHANGES: usize = 40;
    let owner = a.create_account(&name("busy"), "pw", None).await.unwrap();
    let mut targets = Vec::new();
    for i in 0..CHANGES {
        targets.push(b.create_account(&name(&format!("peer{i}")), "pw", None).await.unwrap());
    }
    let targets = std::sync::Arc::new(targets);
    // Contacts added from both handles at once, each also adding the owner back: locks on both
    // accounts in both orders.
    let versions = on_both(&a, &b, CHANGES, |store, i| {
        let targets = targets.clone();
        async move {
            let target = targets[i].id;
            let mine = store.set_relation(owner.id, target, RelationFlags::FORWARD, Some("x")).await.unwrap();
            let theirs = store.set_relation(target, owner.id, RelationFlags::FORWARD, None).await.unwrap();
            let group = store.create_group(owner.id, &format!("g{i}")).await.unwrap().1;
            vec![mine.owner, theirs.target.expect("the owner's reverse list changed"), group]
        }
    })
    .await;
    let mut seen: Vec<u32> = versions.into_iter().flatten().collect();
    seen.sort_unstable();
    let expected: Vec<u32> = (2..2 + 3 * CHANGES as u32).collect();
    assert_eq!(seen, expected, "every change got its own version, none was lost");
    assert_eq!(a.list_settings(owner.id).await.unwrap().version, 1 + 3 * CHANGES as u32);
    let relations = b.relations(owner.id).await.unwrap();
    assert_eq!(relations.len(), CHANGES);
    assert!(relations.iter().all(|r| r.flags == RelationFlags::FORWARD && r.their_flags == RelationFlags::FORWARD));
    assert_eq!(a.groups(owner.id).await.unwrap().len(), CHANGES);
}

async fn one_acknowledgement_deletes_once(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    let to = a.create_account(&name("acked"), "pw", None).await.unwrap();
    let from = a.create_account(&name("acker"), "pw", None).await.unwrap();
    let message =
        OfflineMessage { sender: from.id, recipient: to.id, kind: MessageKind::Text, text: "once".into(), sent_at: 1 };
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(a.enqueue_offline(&message).await.unwrap());
    }
    let ids = std::sync::Arc::new(ids);
    // Each message's acknowledgement arrives twice, once on each handle, at the same moment;
    // half of them through the journal's batch write.
    let deleted = on_both(&a, &b, 2 * ids.len(), |store, i| {
        let id = ids[i / 2];
        async move {
            if i % 4 < 2 {
                store.delete_offline(to.id, id).await.unwrap()
            } else {
                store.update_queue(Vec::new(), vec![(to.id, id)]).await.unwrap();
                false
            }
        }
    })
    .await;
    for pair in deleted.chunks(2).step_by(2) {
        assert_eq!(pair.iter().filter(|d| **d).count(), 1, "one of two deletions found the message: {pair:?}");
    }
    assert_eq!(b.offline_count(to.id).await.unwrap(), 0);
}

async fn concurrent_creation_never_shares_a_uin(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    let created = on_both(&a, &b, 60, |store, i| async move {
        if i % 3 == 0 {
            store.create_numbered_account("pw").await.unwrap()
        } else {
            store.create_account(&name(&format!("rush{i}")), "pw", None).await.unwrap()
        }
    })
    .await;
    let mut uins: Vec<u32> = created.iter().map(|account| account.uin).collect();
    uins.sort_unstable();
    uins.dedup();
    assert_eq!(uins.len(), created.len(), "no UIN was handed out twice");
    for account in &created {
        assert_eq!(b.account_by_uin(account.uin).await.unwrap().as_ref(), Some(account));
    }
}
