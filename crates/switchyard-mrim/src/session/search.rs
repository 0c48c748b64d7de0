//! White-pages search: `WP_REQUEST` to `ANKETA_INFO`.

use super::{now_secs, MrimSession};
use crate::status;
use mrim::codes::wp;
use mrim::server::Anketa;
use std::time::Duration;
use switchyard_core::{profile, Account, Date, Profile, SearchQuery, Sex, TextMatch};
use tokio::time::Instant;

impl MrimSession {
    /// `WP_REQUEST`: every parameter of the 1.7 document, all of which must hold; names
    /// ending in `*` match as prefixes. Limited to `MAX_SEARCHES` a minute per session.
    pub(super) async fn search(&mut self, params: &[(u32, String)]) -> Anketa {
        let now = Instant::now();
        self.searches.retain(|t| now.duration_since(*t) < SEARCH_WINDOW);
        let mut anketa = Anketa {
            status: wp::ANKETA_NOUSER,
            max_rows: MAX_SEARCH_ROWS as u32,
            server_time: now_secs(),
            fields: ANKETA_FIELDS.iter().map(|f| f.to_string()).collect(),
            rows: Vec::new(),
        };
        if self.searches.len() >= MAX_SEARCHES {
            anketa.status = wp::ANKETA_RATELIMERR;
            return anketa;
        }
        self.searches.push(now);
        let Some((query, online_only)) = self.query_of(params) else { return anketa };
        let found = match self.context.core.search(&query, online_only, MAX_SEARCH_ROWS).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                anketa.status = wp::ANKETA_DBERR;
                return anketa;
            }
        };
        for (account, profile) in found {
            let status = self
                .context
                .core
                .online_presence(account.id)
                .filter(|p| p.status.is_visible())
                .map_or(mrim::codes::status::OFFLINE, |p| status::to_mrim(p.status));
            anketa.rows.push(anketa_row(&self.context.config.domains[0], &account, &profile, status));
        }
        if !anketa.rows.is_empty() {
            anketa.status = wp::ANKETA_OK;
        }
        anketa
    }

    /// The search a request asks for, and whether only online users count; `None` when it
    /// names an address that cannot be ours.
    fn query_of(&self, params: &[(u32, String)]) -> Option<(SearchQuery, bool)> {
        let today = Date::from_unix(i64::from(now_secs()));
        let mut query = SearchQuery::default();
        let (mut user, mut domain, mut online_only) = (None, None, false);
        let text = |value: &str| match value.strip_suffix('*') {
            Some(prefix) => TextMatch::Prefix(prefix.to_owned()),
            None => TextMatch::Exact(value.to_owned()),
        };
        for (field, value) in params {
            let value = value.trim();
            let number = value.parse::<u32>().ok();
            match *field {
                wp::USER => user = Some(value),
                wp::DOMAIN => domain = Some(value),
                wp::NICKNAME if !value.is_empty() => query.nickname = Some(text(value)),
                wp::FIRSTNAME if !value.is_empty() => query.first_name = Some(text(value)),
                wp::LASTNAME if !value.is_empty() => query.last_name = Some(text(value)),
                wp::SEX => {
                    query.sex = number
                        .and_then(|n| [None, Some(Sex::Male), Some(Sex::Female)].get(n as usize).copied().flatten())
                }
                wp::DATE1 => query.born_until = number.map(|age| profile::born_by_for_age_at_least(today, age as u16)),
                wp::DATE2 => query.born_from = number.map(|age| profile::born_from_for_age_at_most(today, age as u16)),
                wp::CITY_ID => query.city_id = number,
                wp::COUNTRY_ID => query.country_id = number,
                wp::ZODIAC => query.birthday_window = number.and_then(|sign| profile::zodiac_window(sign as u8)),
                wp::BIRTHDAY_MONTH => query.birth_month = number.map(|m| m as u8),
                wp::BIRTHDAY_DAY => query.birth_day = number.map(|d| d as u8),
                wp::ONLINE => online_only = value == "1",
                // BIRTHDAY and STATUS are "not used for search" (the document).
                _ => {}
            }
        }
        match (user, domain) {
            (Some(user), Some(domain)) => query.name = Some(self.context.config.resolve(&format!("{user}@{domain}"))?),
            (Some(user), None) => {
                query.name = Some(switchyard_core::AccountName::new(&user.to_ascii_lowercase()).ok()?)
            }
            _ => {}
        }
        Some((query, online_only))
    }
}

/// Searches one session may make per `SEARCH_WINDOW` before getting the rate-limit status.
const MAX_SEARCHES: usize = 10;
const SEARCH_WINDOW: Duration = Duration::from_secs(60);
/// Rows one search returns at most.
const MAX_SEARCH_ROWS: usize = 50;
/// The anketa columns, named as clients read them.
const ANKETA_FIELDS: [&str; 15] = [
    "Username",
    "Domain",
    "Nickname",
    "FirstName",
    "LastName",
    "Sex",
    "Birthday",
    "City_id",
    "Location",
    "Zodiac",
    "BMonth",
    "BDay",
    "Country_id",
    "Phone",
    "mrim_status",
];

fn anketa_row(domain: &str, account: &Account, profile: &Profile, status: u32) -> Vec<String> {
    let number = |n: u32| if n == 0 { String::new() } else { n.to_string() };
    let sex = match profile.sex {
        Sex::Male => "1",
        Sex::Female => "2",
        Sex::Unknown => "",
    };
    let birthday = profile.birthday;
    vec![
        account.name.to_string(),
        domain.to_owned(),
        account.display_name(),
        profile.first_name.clone(),
        profile.last_name.clone(),
        sex.to_owned(),
        birthday.map(|b| b.to_string()).unwrap_or_default(),
        number(profile.city_id),
        profile.location.clone(),
        birthday.map(|b| b.zodiac().to_string()).unwrap_or_default(),
        birthday.map(|b| b.month.to_string()).unwrap_or_default(),
        birthday.map(|b| b.day.to_string()).unwrap_or_default(),
        number(profile.country_id),
        String::new(),
        status.to_string(),
    ]
}
