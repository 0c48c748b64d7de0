//! Relation flags and the one rule deciding whether a user lets another one see and reach them.

use crate::presence::{Presence, Status};
use serde::{Deserialize, Serialize};
use std::ops::{BitOr, Sub};

/// Flags of a contact relation owner → target. Reverse lists are derived from `FORWARD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelationFlags(pub u32);

impl RelationFlags {
    pub const NONE: Self = RelationFlags(0);
    /// The owner watches the target (MSN forward list, a contact-list entry elsewhere).
    pub const FORWARD: Self = RelationFlags(1);
    /// The target may see the owner and reach them whatever the privacy mode.
    pub const ALLOW: Self = RelationFlags(2);
    /// The target may never see or reach the owner.
    pub const BLOCK: Self = RelationFlags(4);
    pub const VISIBLE_TO: Self = RelationFlags(8);
    pub const INVISIBLE_TO: Self = RelationFlags(16);
    pub const IGNORE: Self = RelationFlags(32);
    pub const AWAITING_AUTHORIZATION: Self = RelationFlags(64);

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for RelationFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        RelationFlags(self.0 | rhs.0)
    }
}

impl Sub for RelationFlags {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        RelationFlags(self.0 & !rhs.0)
    }
}

/// How to treat users on neither the allow nor the block list (MSN `BLP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Privacy {
    /// Everyone not blocked may see and reach the user (MSN `BLP AL`, the default).
    AllowUnlisted,
    /// Only users on the allow list may (MSN `BLP BL`).
    BlockUnlisted,
}

/// What a client should do when someone adds the user (MSN `GTC`); stored, not interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReverseListPrompt {
    /// Ask the user whether to allow or block (`A`, the default).
    Ask,
    /// Allow automatically (`N`).
    AllowAutomatically,
}

/// Who may put the user on their contact list (MyICQ's `auth` setting, the same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddPolicy {
    /// Anyone; the user is told they were added.
    #[default]
    Anyone,
    /// Only those the user authorizes after a request.
    AskFirst,
    /// Nobody.
    Nobody,
}

/// Whether the owner of `flags` (their flags toward `other`) lets `other` see and reach them.
pub fn allows(privacy: Privacy, flags_toward_other: RelationFlags) -> bool {
    if flags_toward_other.contains(RelationFlags::BLOCK) {
        false
    } else if flags_toward_other.contains(RelationFlags::ALLOW) {
        true
    } else {
        privacy == Privacy::AllowUnlisted
    }
}

/// What a viewer sees of a user with `presence`, given the user's privacy mode and flags toward the
/// viewer: `None` is offline. Blocked or "always invisible to" viewers see nothing; an invisible
/// user is seen as online by those they are "always visible to".
pub fn shown(presence: &Presence, privacy: Privacy, flags_toward_viewer: RelationFlags) -> Option<Presence> {
    if flags_toward_viewer.contains(RelationFlags::INVISIBLE_TO) || !allows(privacy, flags_toward_viewer) {
        return None;
    }
    match presence.status {
        Status::Offline => None,
        Status::Invisible if flags_toward_viewer.contains(RelationFlags::VISIBLE_TO) => {
            Some(Presence { status: Status::Online, ..presence.clone() })
        }
        Status::Invisible => None,
        _ => Some(presence.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_viewer_is_shown() {
        let p = |status| Presence::new(status, "a".into());
        let none = RelationFlags::NONE;
        assert_eq!(shown(&p(Status::Busy), Privacy::AllowUnlisted, none), Some(p(Status::Busy)));
        assert_eq!(shown(&p(Status::Busy), Privacy::BlockUnlisted, none), None);
        assert_eq!(shown(&p(Status::Busy), Privacy::AllowUnlisted, RelationFlags::INVISIBLE_TO), None);
        assert_eq!(shown(&p(Status::Invisible), Privacy::AllowUnlisted, none), None);
        assert_eq!(
            shown(&p(Status::Invisible), Privacy::AllowUnlisted, RelationFlags::VISIBLE_TO),
            Some(p(Status::Online))
        );
        assert_eq!(
            shown(&p(Status::Invisible), Privacy::AllowUnlisted, RelationFlags::VISIBLE_TO | RelationFlags::BLOCK),
            None
        );
        assert_eq!(shown(&p(Status::Offline), Privacy::AllowUnlisted, RelationFlags::VISIBLE_TO), None);
    }

    #[test]
    fn block_beats_mode_and_allow_beats_mode() {
        use Privacy::*;
        let (none, allow, block) = (RelationFlags::NONE, RelationFlags::ALLOW, RelationFlags::BLOCK);
        assert!(allows(AllowUnlisted, none));
        assert!(!allows(BlockUnlisted, none));
        assert!(allows(BlockUnlisted, allow));
        assert!(!allows(AllowUnlisted, block));
        assert!(!allows(AllowUnlisted, block | RelationFlags::FORWARD));
    }
}
