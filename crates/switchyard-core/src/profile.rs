//! What users tell about themselves, and searching by it.

use crate::account::AccountName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sex {
    #[default]
    Unknown,
    Male,
    Female,
}

/// A calendar date (a birthday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking the day exists.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.splitn(3, '-');
        let year: u16 = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        let date = Date { year, month, day };
        ((1..=12).contains(&month) && day >= 1 && day <= date.days_in_month()).then_some(date)
    }

    fn days_in_month(self) -> u8 {
        match self.month {
            2 if self.year.is_multiple_of(4) && (!self.year.is_multiple_of(100) || self.year.is_multiple_of(400)) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// The same day `years` earlier (29 February becomes the 28th in common years).
    pub fn years_before(self, years: u16) -> Date {
        let mut date = Date { year: self.year.saturating_sub(years), ..self };
        date.day = date.day.min(date.days_in_month());
        date
    }

    /// The date of a Unix time (UTC).
    pub fn from_unix(seconds: i64) -> Date {
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = seconds.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }

    /// The day after.
    pub fn next_day(self) -> Date {
        if self.day < self.days_in_month() {
            Date { day: self.day + 1, ..self }
        } else if self.month < 12 {
            Date { month: self.month + 1, day: 1, ..self }
        } else {
            Date { year: self.year + 1, month: 1, day: 1 }
        }
    }

    /// Month and day as one number, `MMDD`.
    pub fn month_day(self) -> u16 {
        u16::from(self.month) * 100 + u16::from(self.day)
    }

    pub fn zodiac(self) -> u8 {
        let md = self.month_day();
        ZODIAC.iter().find(|(_, (from, to))| in_window(md, *from, *to)).map(|(sign, _)| *sign).unwrap_or(10)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Signs by number (1 Aries … 12 Pisces, as MRIM numbers them) and their `MMDD` windows.
const ZODIAC: [(u8, (u16, u16)); 12] = [
    (1, (321, 419)),
    (2, (420, 520)),
    (3, (521, 620)),
    (4, (621, 722)),
    (5, (723, 822)),
    (6, (823, 922)),
    (7, (923, 1022)),
    (8, (1023, 1121)),
    (9, (1122, 1221)),
    (10, (1222, 119)),
    (11, (120, 218)),
    (12, (219, 320)),
];

/// The `MMDD` window of a sign (it wraps the year end for Capricorn).
pub fn zodiac_window(sign: u8) -> Option<(u16, u16)> {
    ZODIAC.iter().find(|(s, _)| *s == sign).map(|(_, window)| *window)
}

/// Whether `md` is in the inclusive window `from..=to`, which may wrap the year end.
pub fn in_window(md: u16, from: u16, to: u16) -> bool {
    if from <= to {
        (from..=to).contains(&md)
    } else {
        md >= from || md <= to
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub sex: Sex,
    pub birthday: Option<Date>,
    /// MRIM's numeric place codes.
    pub city_id: u32,
    pub country_id: u32,
    pub location: String,
    /// Place names as the user typed them (MyICQ).
    pub country: String,
    pub province: String,
    pub city: String,
    pub address: String,
    pub zipcode: String,
    pub email: String,
    pub phone: String,
    pub homepage: String,
    pub about: String,
    pub school: String,
    pub occupation: String,
    /// MyICQ's blood-type index (0 = not given).
    pub blood_type: u8,
    /// Index of the picture MyICQ clients show for the user.
    pub face: u8,
    /// An age stated outright, for users who gave no birthday (MyICQ asks for an age).
    pub age: Option<u8>,
}

impl Profile {
    /// The user's age on `today`: from the birthday when there is one, else as stated.
    pub fn age_on(&self, today: Date) -> Option<u8> {
        match self.birthday {
            Some(born) => {
                let had_birthday = (today.month, today.day) >= (born.month, born.day);
                let years = today.year.saturating_sub(born.year).saturating_sub(u16::from(!had_birthday));
                Some(years.min(255) as u8)
            }
            None => self.age,
        }
    }

    /// First and last name as one.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_owned()
    }
}

/// How a text field must match, ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    Exact(String),
    Prefix(String),
}

impl TextMatch {
    pub fn matches(&self, value: &str) -> bool {
        let value = value.to_lowercase();
        match self {
            TextMatch::Exact(wanted) => value == wanted.to_lowercase(),
            TextMatch::Prefix(wanted) => value.starts_with(&wanted.to_lowercase()),
        }
    }
}

/// Search criteria; every one given must hold. Stores execute these primitives; the core
/// derives them from what users ask (ages, zodiac signs).
/// Born on or before this date, one is at least `age` years old on `today`.
pub fn born_by_for_age_at_least(today: Date, age: u16) -> Date {
    today.years_before(age)
}

/// Born on or after this date, one is at most `age` years old on `today`.
pub fn born_from_for_age_at_most(today: Date, age: u16) -> Date {
    today.years_before(age.saturating_add(1)).next_day()
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    pub name: Option<AccountName>,
    /// Only accounts with a greater UIN (results come in UIN order, so this pages through them).
    pub uin_above: Option<u32>,
    pub nickname: Option<TextMatch>,
    pub email: Option<TextMatch>,
    pub first_name: Option<TextMatch>,
    pub last_name: Option<TextMatch>,
    pub sex: Option<Sex>,
    /// Born on or after.
    pub born_from: Option<Date>,
    /// Born on or before.
    pub born_until: Option<Date>,
    /// Birthday's `MMDD` within this inclusive window (which may wrap the year end).
    pub birthday_window: Option<(u16, u16)>,
    pub birth_month: Option<u8>,
    pub birth_day: Option<u8>,
    pub city_id: Option<u32>,
    pub country_id: Option<u32>,
}

impl SearchQuery {
    /// The check every store must agree with (the in-memory store uses it directly).
    pub fn matches(&self, account: &crate::Account, profile: &Profile) -> bool {
        let (name, nickname) = (&account.name, account.nickname.as_deref());
        let text = |criterion: &Option<TextMatch>, value: &str| criterion.as_ref().is_none_or(|c| c.matches(value));
        let birthday = profile.birthday;
        let on_birthday = |check: &dyn Fn(Date) -> bool| birthday.is_some_and(check);
        self.name.as_ref().is_none_or(|n| n == name)
            && self.uin_above.is_none_or(|above| account.uin > above)
            && text(&self.nickname, nickname.unwrap_or(""))
            && text(&self.email, &profile.email)
            && text(&self.first_name, &profile.first_name)
            && text(&self.last_name, &profile.last_name)
            && self.sex.is_none_or(|s| s == profile.sex)
            && self.born_from.is_none_or(|d| on_birthday(&|b| b >= d))
            && self.born_until.is_none_or(|d| on_birthday(&|b| b <= d))
            && self.birthday_window.is_none_or(|(from, to)| on_birthday(&|b| in_window(b.month_day(), from, to)))
            && self.birth_month.is_none_or(|m| on_birthday(&|b| b.month == m))
            && self.birth_day.is_none_or(|d| on_birthday(&|b| b.day == d))
            && self.city_id.is_none_or(|c| c == profile.city_id)
            && self.country_id.is_none_or(|c| c == profile.country_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_signs() {
        assert_eq!(Date::parse("2000-02-29"), Some(Date { year: 2000, month: 2, day: 29 }));
        assert_eq!(Date::parse("1900-02-29"), None);
        assert_eq!(Date::parse("1990-13-01"), None);
        assert_eq!(Date::parse("x"), None);
        assert_eq!(Date::from_unix(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix(1_000_000_000).to_string(), "2001-09-09");
        assert_eq!(Date::from_unix(951_782_400).to_string(), "2000-02-29");
        assert_eq!(Date::parse("2000-02-29").unwrap().years_before(1).to_string(), "1999-02-28");
        assert_eq!(Date::parse("1999-02-28").unwrap().next_day().to_string(), "1999-03-01");
        assert_eq!(Date::parse("1999-12-31").unwrap().next_day().to_string(), "2000-01-01");
        for (date, sign) in [
            ("1990-03-21", 1),
            ("1990-04-19", 1),
            ("1990-12-31", 10),
            ("1990-01-19", 10),
            ("1990-01-20", 11),
            ("1990-03-20", 12),
        ] {
            assert_eq!(Date::parse(date).unwrap().zodiac(), sign, "{date}");
        }
    }

    #[test]
    fn text_matching_ignores_case_in_any_script() {
        assert!(TextMatch::Exact("иван".into()).matches("Иван"));
        assert!(TextMatch::Prefix("ИВ".into()).matches("Иванов"));
        assert!(!TextMatch::Exact("Ив".into()).matches("Иван"));
    }
}
