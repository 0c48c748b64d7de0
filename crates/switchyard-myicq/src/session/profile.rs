//! The user-information block and the canonical profile.

use myicq::info::UserInfo;
use switchyard_core::{Account, AddPolicy, Date, Profile, Sex};

/// MyICQ's `gender` byte as gaim-myicq reads and writes it: 0 not given, 1 male, 2 female
/// (an account without one showed as "Female" when 0 was taken for male).
mod gender {
    pub const UNKNOWN: u8 = 0;
    pub const MALE: u8 = 1;
    pub const FEMALE: u8 = 2;
}

pub(crate) fn info_of(account: &Account, profile: &Profile, today: Date) -> UserInfo {
    UserInfo {
        face: profile.face,
        nick: account.nickname.clone().unwrap_or_default(),
        age: profile.age_on(today).unwrap_or(0),
        gender: match profile.sex {
            Sex::Male => gender::MALE,
            Sex::Female => gender::FEMALE,
            Sex::Unknown => gender::UNKNOWN,
        },
        country: profile.country.clone(),
        province: profile.province.clone(),
        city: profile.city.clone(),
        email: profile.email.clone(),
        address: profile.address.clone(),
        zipcode: profile.zipcode.clone(),
        tel: profile.phone.clone(),
        name: profile.full_name(),
        blood: profile.blood_type,
        college: profile.school.clone(),
        occupation: profile.occupation.clone(),
        homepage: profile.homepage.clone(),
        intro: profile.about.clone(),
    }
}

/// The profile after a `MODIFY_USER`; what MyICQ has no field for (birthday, MRIM's place
/// codes) is kept, unless the stated age contradicts the birthday.
pub(crate) fn updated(mut profile: Profile, info: &UserInfo, today: Date) -> Profile {
    let stated_age = (info.age > 0).then_some(info.age);
    if profile.birthday.is_some() && profile.age_on(today) != stated_age {
        profile.birthday = None;
    }
    profile.age = stated_age;
    profile.face = info.face;
    profile.sex = match info.gender {
        gender::MALE => Sex::Male,
        gender::FEMALE => Sex::Female,
        _ => Sex::Unknown,
    };
    let (first, last) = info.name.trim().split_once(' ').unwrap_or((info.name.trim(), ""));
    if profile.full_name() != info.name.trim() {
        profile.first_name = first.trim().to_owned();
        profile.last_name = last.trim().to_owned();
    }
    profile.country = info.country.clone();
    profile.province = info.province.clone();
    profile.city = info.city.clone();
    profile.email = info.email.clone();
    profile.address = info.address.clone();
    profile.zipcode = info.zipcode.clone();
    profile.phone = info.tel.clone();
    profile.blood_type = info.blood;
    profile.school = info.college.clone();
    profile.occupation = info.occupation.clone();
    profile.homepage = info.homepage.clone();
    profile.about = info.intro.clone();
    profile
}

/// `auth` byte ↔ add policy (the same numbers as `ADD_FRIEND`'s results).
pub(crate) fn add_policy_of(auth: u8) -> AddPolicy {
    match auth {
        1 => AddPolicy::AskFirst,
        2 => AddPolicy::Nobody,
        _ => AddPolicy::Anyone,
    }
}

pub(crate) fn auth_of(policy: AddPolicy) -> u8 {
    match policy {
        AddPolicy::Anyone => 0,
        AddPolicy::AskFirst => 1,
        AddPolicy::Nobody => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_survives_the_block_and_keeps_what_myicq_lacks() {
        let today = Date::parse("2026-11-22").unwrap();
        let account = Account {
            id: switchyard_core::AccountId(1),
            name: switchyard_core::AccountName::new("li").unwrap(),
            uin: 10001,
            nickname: Some("小李".into()),
        };
        let before = Profile {
            birthday: Date::parse("1990-12-01"),
            city_id: 495,
            first_name: "Li".into(),
            last_name: "Wei".into(),
            ..Profile::default()
        };
        let mut info = info_of(&account, &before, today);
        assert_eq!((info.age, info.name.as_str(), info.nick.as_str()), (35, "Li Wei", "小李"));
        info.province = "广东".into();
        let after = updated(before.clone(), &info, today);
        assert_eq!((after.birthday, after.city_id, after.province.as_str()), (before.birthday, 495, "广东"));
        info.age = 40;
        let older = updated(after, &info, today);
        assert_eq!((older.birthday, older.age, older.age_on(today)), (None, Some(40), Some(40)));
        assert_eq!(info_of(&account, &older, today).age, 40);
    }
}
