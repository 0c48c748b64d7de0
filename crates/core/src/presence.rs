//! The canonical presence every protocol maps its own states to.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Online,
    Busy,
    Idle,
    BeRightBack,
    Away,
    OnThePhone,
    Lunch,
    /// Connected but shown to everyone as offline.
    Invisible,
    Offline,
}

impl Status {
    /// Whether others may see the user as online at all.
    pub fn is_visible(self) -> bool {
        !matches!(self, Status::Invisible | Status::Offline)
    }
}

/// What others see of a connected user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub status: Status,
    /// The name the user currently shows.
    pub display_name: String,
}
