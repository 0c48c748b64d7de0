//! The canonical presence every protocol maps its own states to.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub status: Status,
    /// The name the user currently shows.
    pub display_name: String,
    /// A line of text shown beside the name (MSN's personal message); empty when none.
    pub personal_message: String,
    pub client: ClientDetails,
}

impl Presence {
    pub fn new(status: Status, display_name: String) -> Presence {
        Presence { status, display_name, personal_message: String::new(), client: ClientDetails::default() }
    }
}

/// What a client tells other clients of its own protocol about itself: MSN's capability bits and
/// the MSN object (still URL-encoded) describing its display picture. Others ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientDetails {
    pub capabilities: u32,
    pub picture: Option<String>,
}
