//! A [`Store`] kept in memory: for tests and benchmarks of the core, and for a throw-away server.
//! It passes the same conformance suite as the persistent stores.

use crate::account::{Account, AccountId, AccountName};
use crate::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use crate::profile::{Profile, SearchQuery};
use crate::secrets::Secrets;
use crate::store::{
    ContactGroup, GroupId, ListSettings, MessageKind, OfflineMessage, Relation, Store, StoreError, StoredMessage,
    VersionsAfterChange,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

struct StoredAccount {
    account: Account,
    secrets: Secrets,
    settings: ListSettings,
    profile: Profile,
    /// The last broadcast this account has seen.
    broadcasts_seen: i64,
    disabled: bool,
}

#[derive(Default)]
struct State {
    accounts: BTreeMap<AccountId, StoredAccount>,
    by_name: HashMap<AccountName, AccountId>,
    last_id: i64,
    /// owner → target → (flags, display name)
    relations: HashMap<AccountId, BTreeMap<AccountId, (RelationFlags, String)>>,
    /// target → owners with any relation to it
    reverse: HashMap<AccountId, BTreeSet<AccountId>>,
    offline: BTreeMap<i64, OfflineMessage>,
    last_message: i64,
    groups: HashMap<AccountId, Vec<ContactGroup>>,
    last_group: i64,
    /// (owner, target) → the owner's groups the target is in
    members: HashMap<(AccountId, AccountId), Vec<GroupId>>,
    /// id → (sender, kind, text, sent at)
    broadcasts: BTreeMap<i64, (AccountId, MessageKind, String, i64)>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }
}

fn missing(id: AccountId) -> StoreError {
    StoreError::Backend(format!("no account {id}"))
}

impl State {
    fn account(&mut self, id: AccountId) -> Result<&mut StoredAccount, StoreError> {
        self.accounts.get_mut(&id).ok_or(missing(id))
    }

    fn bump(&mut self, id: AccountId) -> Result<u32, StoreError> {
        let settings = &mut self.account(id)?.settings;
        settings.version += 1;
        Ok(settings.version)
    }

    fn insert_account(&mut self, name: AccountName, password: &str, nickname: Option<&str>) -> Account {
        self.last_id += 1;
        let id = AccountId(self.last_id);
        let account = Account {
            id,
            name: name.clone(),
            uin: (10000 + self.last_id) as u32,
            nickname: nickname.map(str::to_owned),
        };
        let settings = ListSettings {
            version: 1,
            privacy: Privacy::AllowUnlisted,
            prompt: ReverseListPrompt::Ask,
            add_policy: AddPolicy::Anyone,
        };
        let broadcasts_seen = self.broadcasts.keys().next_back().copied().unwrap_or(0);
        let stored = StoredAccount {
            account: account.clone(),
            secrets: Secrets::new(password),
            settings,
            profile: Profile::default(),
            broadcasts_seen,
            disabled: false,
        };
        self.accounts.insert(id, stored);
        self.by_name.insert(name, id);
        account
    }

    fn flags(&self, owner: AccountId, target: AccountId) -> RelationFlags {
        self.relations.get(&owner).and_then(|r| r.get(&target)).map(|(f, _)| *f).unwrap_or_default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_account(
        &self,
        name: &AccountName,
        password: &str,
        nickname: Option<&str>,
    ) -> Result<Account, StoreError> {
        if name.is_numeric() {
            return Err(StoreError::NumericName(name.clone()));
        }
        self.with(|s| {
            if s.by_name.contains_key(name) {
                return Err(StoreError::NameTaken(name.clone()));
            }
            Ok(s.insert_account(name.clone(), password, nickname))
        })
    }

    async fn create_numbered_account(&self, password: &str) -> Result<Account, StoreError> {
        self.with(|s| {
            let uin = 10000 + s.last_id + 1;
            let name = [uin.to_string(), format!("icq-{uin}")]
                .into_iter()
                .map(|n| AccountName::new(&n).expect("digits make a valid name"))
                .find(|n| !s.by_name.contains_key(n))
                .ok_or_else(|| StoreError::Backend(format!("both names for UIN {uin} are taken")))?;
            Ok(s.insert_account(name, password, None))
        })
    }

    async fn set_nickname(&self, id: AccountId, nickname: Option<&str>) -> Result<(), StoreError> {
        self.with(|s| {
            s.account(id)?.account.nickname = nickname.map(str::to_owned);
            Ok(())
        })
    }

    async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        Ok(self.with(|s| s.by_name.get(name).map(|id| s.accounts[id].account.clone())))
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.with(|s| s.accounts.get(&id).map(|a| a.account.clone())))
    }

    async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, StoreError> {
        let id = AccountId(i64::from(uin) - 10000);
        Ok(self.with(|s| s.accounts.get(&id).map(|a| a.account.clone())))
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut all: Vec<Account> = self.with(|s| s.accounts.values().map(|a| a.account.clone()).collect());
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn find_accounts(&self, fragment: &str, limit: usize) -> Result<Vec<Account>, StoreError> {
        let mut found = self.accounts().await?;
        found.retain(|a| a.name.as_str().contains(fragment));
        found.truncate(limit);
        Ok(found)
    }

    async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError> {
        Ok(self.with(|s| {
            let Some(gone) = s.accounts.remove(&id) else { return false };
            s.by_name.remove(&gone.account.name);
            for target in s.relations.remove(&id).unwrap_or_default().into_keys() {
                if let Some(owners) = s.reverse.get_mut(&target) {
                    owners.remove(&id);
                }
            }
            for owner in s.reverse.remove(&id).unwrap_or_default() {
                if let Some(targets) = s.relations.get_mut(&owner) {
                    targets.remove(&id);
                }
            }
            s.offline.retain(|_, m| m.recipient != id && m.sender != id);
            s.groups.remove(&id);
            s.members.retain(|(owner, target), _| *owner != id && *target != id);
            true
        }))
    }

    async fn set_password(&self, id: AccountId, password: &str) -> Result<(), StoreError> {
        self.with(|s| {
            s.account(id)?.secrets = Secrets::new(password);
            Ok(())
        })
    }

    async fn secrets(&self, id: AccountId) -> Result<Option<Secrets>, StoreError> {
        Ok(self.with(|s| s.accounts.get(&id).filter(|a| !a.disabled).map(|a| a.secrets.clone())))
    }

    async fn set_disabled(&self, id: AccountId, disabled: bool) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.accounts.get_mut(&id).map(|a| a.disabled = disabled).is_some()))
    }

    async fn is_disabled(&self, id: AccountId) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.accounts.get(&id).is_some_and(|a| a.disabled)))
    }

    async fn account_with_secrets(&self, name: &AccountName) -> Result<Option<(Account, Secrets)>, StoreError> {
        let Some(account) = self.account_by_name(name).await? else { return Ok(None) };
        Ok(self.secrets(account.id).await?.map(|secrets| (account, secrets)))
    }

    async fn list_settings(&self, id: AccountId) -> Result<ListSettings, StoreError> {
        self.with(|s| Ok(s.account(id)?.settings))
    }

    async fn set_privacy(&self, id: AccountId, privacy: Privacy) -> Result<u32, StoreError> {
        self.with(|s| {
            s.account(id)?.settings.privacy = privacy;
            s.bump(id)
        })
    }

    async fn set_prompt(&self, id: AccountId, prompt: ReverseListPrompt) -> Result<u32, StoreError> {
        self.with(|s| {
            s.account(id)?.settings.prompt = prompt;
            s.bump(id)
        })
    }

    async fn set_add_policy(&self, id: AccountId, policy: AddPolicy) -> Result<u32, StoreError> {
        self.with(|s| {
            s.account(id)?.settings.add_policy = policy;
            s.bump(id)
        })
    }

    async fn relations(&self, owner: AccountId) -> Result<Vec<Relation>, StoreError> {
        Ok(self.with(|s| {
            let mut others: BTreeSet<AccountId> =
                s.relations.get(&owner).map(|r| r.keys().copied().collect()).unwrap_or_default();
            others.extend(s.reverse.get(&owner).into_iter().flatten().copied());
            let mut relations: Vec<Relation> = others
                .into_iter()
                .filter_map(|other| {
                    let account = &s.accounts.get(&other)?.account;
                    let (flags, display_name) =
                        s.relations.get(&owner).and_then(|r| r.get(&other)).cloned().unwrap_or_default();
                    Some(Relation {
                        other: account.to_ref(),
                        display_name,
                        flags,
                        their_flags: s.flags(other, owner),
                        their_privacy: s.accounts[&other].settings.privacy,
                        groups: s.members.get(&(owner, other)).cloned().unwrap_or_default(),
                    })
                })
                .collect();
            relations.sort_by(|a, b| a.other.name.cmp(&b.other.name));
            relations
        }))
    }

    async fn relation_flags(&self, owner: AccountId, target: AccountId) -> Result<RelationFlags, StoreError> {
        Ok(self.with(|s| s.flags(owner, target)))
    }

    async fn count_with_flag(&self, owner: AccountId, flag: RelationFlags) -> Result<usize, StoreError> {
        Ok(self.with(|s| s.relations.get(&owner).map_or(0, |r| r.values().filter(|(f, _)| f.0 & flag.0 != 0).count())))
    }

    async fn set_relation(
        &self,
        owner: AccountId,
        target: AccountId,
        flags: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<VersionsAfterChange, StoreError> {
        self.with(|s| {
            s.account(owner)?;
            s.account(target)?;
            let before = s.flags(owner, target);
            let targets = s.relations.entry(owner).or_default();
            if flags.is_empty() {
                targets.remove(&target);
                s.members.remove(&(owner, target));
                if let Some(owners) = s.reverse.get_mut(&target) {
                    owners.remove(&owner);
                }
            } else {
                let entry = targets.entry(target).or_default();
                entry.0 = flags;
                if let Some(name) = display_name {
                    entry.1 = name.to_owned();
                }
                s.reverse.entry(target).or_default().insert(owner);
            }
            let owner_version = s.bump(owner)?;
            let forward_changed = before.contains(RelationFlags::FORWARD) != flags.contains(RelationFlags::FORWARD);
            let target_version = match (forward_changed, owner == target) {
                (false, _) => None,
                (true, true) => Some(owner_version),
                (true, false) => Some(s.bump(target)?),
            };
            Ok(VersionsAfterChange { owner: owner_version, target: target_version })
        })
    }

    async fn profile(&self, id: AccountId) -> Result<Profile, StoreError> {
        self.with(|s| Ok(s.account(id)?.profile.clone()))
    }

    async fn set_profile(&self, id: AccountId, profile: &Profile) -> Result<(), StoreError> {
        self.with(|s| {
            s.account(id)?.profile = profile.clone();
            Ok(())
        })
    }

    async fn search(&self, query: &SearchQuery, limit: usize) -> Result<Vec<(Account, Profile)>, StoreError> {
        let mut found: Vec<(Account, Profile)> = self.with(|s| {
            s.accounts
                .values()
                .filter(|a| !a.disabled && query.matches(&a.account, &a.profile))
                .map(|a| (a.account.clone(), a.profile.clone()))
                .collect()
        });
        found.sort_by_key(|(account, _)| account.uin);
        found.truncate(limit);
        Ok(found)
    }

    async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, StoreError> {
        Ok(self.with(|s| s.groups.get(&owner).cloned().unwrap_or_default()))
    }

    async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), StoreError> {
        self.with(|s| {
            s.account(owner)?;
            s.last_group += 1;
            let group = ContactGroup { id: GroupId(s.last_group), name: name.to_owned() };
            s.groups.entry(owner).or_default().push(group.clone());
            Ok((group, s.bump(owner)?))
        })
    }

    async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<Option<u32>, StoreError> {
        self.with(|s| {
            let Some(group) = s.groups.get_mut(&owner).and_then(|g| g.iter_mut().find(|g| g.id == id)) else {
                return Ok(None);
            };
            group.name = name.to_owned();
            s.bump(owner).map(Some)
        })
    }

    async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<Option<u32>, StoreError> {
        self.with(|s| {
            let Some(groups) = s.groups.get_mut(&owner) else { return Ok(None) };
            let before = groups.len();
            groups.retain(|g| g.id != id);
            if groups.len() == before {
                return Ok(None);
            }
            for ((o, _), member_of) in s.members.iter_mut() {
                if *o == owner {
                    member_of.retain(|g| *g != id);
                }
            }
            s.bump(owner).map(Some)
        })
    }

    async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, StoreError> {
        self.with(|s| {
            if s.flags(owner, target).is_empty() {
                return Err(StoreError::Backend(format!("{target} is not a contact of {owner}")));
            }
            let own: Vec<GroupId> = s.groups.get(&owner).map(|g| g.iter().map(|g| g.id).collect()).unwrap_or_default();
            let mut chosen: Vec<GroupId> = groups.iter().copied().filter(|g| own.contains(g)).collect();
            chosen.sort();
            chosen.dedup();
            s.members.insert((owner, target), chosen);
            s.bump(owner)
        })
    }

    async fn enqueue_offline(&self, message: &OfflineMessage) -> Result<i64, StoreError> {
        self.with(|s| {
            s.account(message.recipient)?;
            s.last_message += 1;
            s.offline.insert(s.last_message, message.clone());
            Ok(s.last_message)
        })
    }

    async fn offline_count(&self, recipient: AccountId) -> Result<usize, StoreError> {
        Ok(self.with(|s| s.offline.values().filter(|m| m.recipient == recipient).count()))
    }

    async fn offline_total(&self) -> Result<u64, StoreError> {
        Ok(self.with(|s| s.offline.len() as u64))
    }

    async fn offline_messages(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, StoreError> {
        Ok(self.with(|s| {
            s.offline
                .iter()
                .filter(|(_, m)| m.recipient == recipient)
                .map(|(id, m)| StoredMessage { id: *id, message: m.clone() })
                .collect()
        }))
    }

    async fn delete_offline(&self, recipient: AccountId, id: i64) -> Result<bool, StoreError> {
        Ok(self.with(|s| match s.offline.get(&id) {
            Some(m) if m.recipient == recipient => s.offline.remove(&id).is_some(),
            _ => false,
        }))
    }

    async fn add_broadcast(
        &self,
        sender: AccountId,
        kind: MessageKind,
        text: &str,
        sent_at: i64,
    ) -> Result<i64, StoreError> {
        self.with(|s| {
            s.account(sender)?;
            let id = s.broadcasts.keys().next_back().copied().unwrap_or(0) + 1;
            s.broadcasts.insert(id, (sender, kind, text.to_owned(), sent_at));
            Ok(id)
        })
    }

    async fn unseen_broadcasts(&self, recipient: AccountId, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        self.with(|s| {
            let seen = s.account(recipient)?.broadcasts_seen;
            let mut unseen: Vec<StoredMessage> = s
                .broadcasts
                .range(seen + 1..)
                .rev()
                .take(limit)
                .map(|(id, (sender, kind, text, sent_at))| StoredMessage {
                    id: *id,
                    message: OfflineMessage {
                        sender: *sender,
                        recipient,
                        kind: *kind,
                        text: text.clone(),
                        sent_at: *sent_at,
                    },
                })
                .collect();
            unseen.reverse();
            Ok(unseen)
        })
    }

    async fn mark_broadcasts_seen(&self, recipient: AccountId, id: i64) -> Result<(), StoreError> {
        self.with(|s| {
            let seen = &mut s.account(recipient)?.broadcasts_seen;
            *seen = (*seen).max(id);
            Ok(())
        })
    }
}
