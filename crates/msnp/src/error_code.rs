//! Numeric error replies (draft §7.11).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    SyntaxError = 200,
    InvalidParameter = 201,
    InvalidUser = 205,
    FqdnMissing = 206,
    AlreadyLoggedIn = 207,
    InvalidUsername = 208,
    InvalidFriendlyName = 209,
    ListFull = 210,
    AlreadyThere = 215,
    NotOnList = 216,
    NotOnline = 217,
    AlreadyInTheMode = 218,
    AlreadyInOppositeList = 219,
    TooManyGroups = 223,
    InvalidGroup = 224,
    NotInGroup = 225,
    GroupNameExists = 228,
    GroupNameTooLong = 229,
    CannotRemoveGroupZero = 230,
    SwitchboardFailed = 280,
    NotifyXfrFailed = 281,
    RequiredFieldsMissing = 300,
    NotLoggedIn = 302,
    InternalServer = 500,
    DbServer = 501,
    /// A command this dialect does not have.
    CommandDisabled = 502,
    /// A wrong or unknown answer to `CHL`.
    ChallengeFailed = 540,
    ServerBusy = 600,
    ServerUnavailable = 601,
    ServerGoingDown = 604,
    UserTooActive = 713,
    NotExpected = 715,
    AuthenticationFailed = 911,
    NotAllowedWhenOffline = 913,
    NotAcceptingNewUsers = 920,
}

impl ErrorCode {
    pub fn number(self) -> u16 {
        self as u16
    }
}
