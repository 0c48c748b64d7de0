//! The numbers the SQL stores keep for settings and profile fields: one table for every store,
//! so that a copy between stores carries the same values.

use crate::privacy::{AddPolicy, Privacy, ReverseListPrompt};
use crate::profile::Sex;

pub fn privacy_code(privacy: Privacy) -> i16 {
    match privacy {
        Privacy::AllowUnlisted => 0,
        Privacy::BlockUnlisted => 1,
    }
}

pub fn privacy_of(code: i64) -> Privacy {
    if code == 0 {
        Privacy::AllowUnlisted
    } else {
        Privacy::BlockUnlisted
    }
}

pub fn prompt_code(prompt: ReverseListPrompt) -> i16 {
    match prompt {
        ReverseListPrompt::Ask => 0,
        ReverseListPrompt::AllowAutomatically => 1,
    }
}

pub fn prompt_of(code: i64) -> ReverseListPrompt {
    if code == 0 {
        ReverseListPrompt::Ask
    } else {
        ReverseListPrompt::AllowAutomatically
    }
}

pub fn add_policy_code(policy: AddPolicy) -> i16 {
    match policy {
        AddPolicy::Anyone => 0,
        AddPolicy::AskFirst => 1,
        AddPolicy::Nobody => 2,
    }
}

pub fn add_policy_of(code: i64) -> AddPolicy {
    match code {
        1 => AddPolicy::AskFirst,
        2 => AddPolicy::Nobody,
        _ => AddPolicy::Anyone,
    }
}

pub fn sex_code(sex: Sex) -> i16 {
    match sex {
        Sex::Unknown => 0,
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

pub fn sex_of(code: i64) -> Sex {
    match code {
        1 => Sex::Male,
        2 => Sex::Female,
        _ => Sex::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_comes_back_from_its_code() {
        for privacy in [Privacy::AllowUnlisted, Privacy::BlockUnlisted] {
            assert_eq!(privacy_of(privacy_code(privacy).into()), privacy);
        }
        for prompt in [ReverseListPrompt::Ask, ReverseListPrompt::AllowAutomatically] {
            assert_eq!(prompt_of(prompt_code(prompt).into()), prompt);
        }
        for policy in [AddPolicy::Anyone, AddPolicy::AskFirst, AddPolicy::Nobody] {
            assert_eq!(add_policy_of(add_policy_code(policy).into()), policy);
        }
        for sex in [Sex::Unknown, Sex::Male, Sex::Female] {
            assert_eq!(sex_of(sex_code(sex).into()), sex);
        }
    }
}
