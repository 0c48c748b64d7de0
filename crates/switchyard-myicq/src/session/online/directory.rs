//! Profiles and searches.

use super::*;

impl Online {
    pub(super) fn today() -> Date {
        Date::from_unix(unix_now())
    }

    /// No reply for a UIN that does not exist, as the original server did.
    pub(super) async fn update_contact(&mut self, uin: u32, seq: u16) -> Result<(), End> {
        let Some(account) = self.account_by_uin(uin).await else { return Ok(()) };
        let Ok(found) = self.link.context.core.store().profile(account.id).await else { return Ok(()) };
        let info = profile::info_of(&account, &found, Self::today());
        self.send(ServerPacket::UpdateContact { uin, info }, seq).await
    }

    pub(super) async fn update_user(&mut self, seq: u16) -> Result<(), End> {
        let store = self.link.context.core.store();
        let me = self.me().clone();
        let (found, settings) = match (store.profile(me.id).await, store.list_settings(me.id).await) {
            (Ok(found), Ok(settings)) => (found, settings),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "could not read the profile");
                return Ok(());
            }
        };
        let info = profile::info_of(&me, &found, Self::today());
        self.send(ServerPacket::UpdateUser { info, auth: profile::auth_of(settings.add_policy) }, seq).await
    }

    /// Stores the profile, the add policy and a new password (the session keeps its key: the
    /// new one applies from the next login).
    pub(super) async fn modify_user(&mut self, modify: ModifyUser) {
        let core = self.link.context.core.clone();
        let store = core.store();
        let me = self.me().id;
        let nickname = modify.info.nick.trim().to_owned();
        let result = async {
            let profile = profile::updated(store.profile(me).await?, &modify.info, Self::today());
            store.set_profile(me, &profile).await?;
            store.set_nickname(me, (!nickname.is_empty()).then_some(nickname.as_str())).await?;
            let policy = profile::add_policy_of(modify.auth);
            if store.list_settings(me).await?.add_policy != policy {
                store.set_add_policy(me, policy).await?;
            }
            if let Some(password) = modify.new_password.filter(|p| !p.is_empty()) {
                store.set_password(me, &from_gbk(&password)).await?;
                tracing::info!("password changed");
            }
            Ok::<_, switchyard_core::StoreError>(())
        };
        if let Err(e) = result.await {
            tracing::error!(error = %e, "could not store the profile");
            return;
        }
        self.session.account.nickname = (!nickname.is_empty()).then_some(nickname);
        let display_name = self.me().display_name();
        if display_name != self.display_name {
            self.display_name = display_name;
            self.set_status(self.status).await;
        }
    }

    pub(super) async fn search_random(&mut self, seq: u16) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let mut results = Vec::new();
        for id in core.random_online(SEARCH_MAX, self.me().id) {
            if let (Ok(Some(account)), Ok(found)) =
                (core.store().account_by_id(id).await, core.store().profile(id).await)
            {
                results.push(search_result(&account, &found, true));
            }
        }
        self.send(ServerPacket::Search(results), seq).await
    }

    pub(super) async fn search_custom(&mut self, search: SearchCustom, seq: u16) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let query = match search {
            SearchCustom::Uin(uin) => {
                // The original server sent nothing for a number nobody has, and its clients
                // resent the search until they gave up; a bare ACK ends it ("no such user").
                let Some(account) = self.account_by_uin(uin).await else {
                    self.link.pure_ack(seq).await;
                    return Ok(());
                };
                SearchQuery { name: Some(account.name), ..SearchQuery::default() }
            }
            SearchCustom::Fields { nick, email, start_uin } => {
                let exact = |text: String| (!text.is_empty()).then_some(TextMatch::Exact(text));
                if nick.is_empty() && email.is_empty() {
                    return Ok(());
                }
                SearchQuery {
                    nickname: exact(nick),
                    email: exact(email),
                    uin_above: Some(start_uin),
                    ..SearchQuery::default()
                }
            }
        };
        let found = match core.search(&query, false, SEARCH_MAX).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                return Ok(());
            }
        };
        let results =
            found.iter().map(|(account, p)| search_result(account, p, core.is_visibly_online(account.id))).collect();
        self.send(ServerPacket::Search(results), seq).await
    }
}
