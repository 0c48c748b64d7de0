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

/// Every code, to look one up by number.
const ALL: [ErrorCode; 35] = [
    ErrorCode::SyntaxError,
    ErrorCode::InvalidParameter,
    ErrorCode::InvalidUser,
    ErrorCode::FqdnMissing,
    ErrorCode::AlreadyLoggedIn,
    ErrorCode::InvalidUsername,
    ErrorCode::InvalidFriendlyName,
    ErrorCode::ListFull,
    ErrorCode::AlreadyThere,
    ErrorCode::NotOnList,
    ErrorCode::NotOnline,
    ErrorCode::AlreadyInTheMode,
    ErrorCode::AlreadyInOppositeList,
    ErrorCode::TooManyGroups,
    ErrorCode::InvalidGroup,
    ErrorCode::NotInGroup,
    ErrorCode::GroupNameExists,
    ErrorCode::GroupNameTooLong,
    ErrorCode::CannotRemoveGroupZero,
    ErrorCode::SwitchboardFailed,
    ErrorCode::NotifyXfrFailed,
    ErrorCode::RequiredFieldsMissing,
    ErrorCode::NotLoggedIn,
    ErrorCode::InternalServer,
    ErrorCode::DbServer,
    ErrorCode::CommandDisabled,
    ErrorCode::ChallengeFailed,
    ErrorCode::ServerBusy,
    ErrorCode::ServerUnavailable,
    ErrorCode::ServerGoingDown,
    ErrorCode::UserTooActive,
    ErrorCode::NotExpected,
    ErrorCode::AuthenticationFailed,
    ErrorCode::NotAllowedWhenOffline,
    ErrorCode::NotAcceptingNewUsers,
];

impl ErrorCode {
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The code with this number, if it is one of the draft's or the later dialects'.
    pub fn from_number(number: u16) -> Option<ErrorCode> {
        ALL.into_iter().find(|code| code.number() == number)
    }

    /// What the code tells a person.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::SyntaxError => "the server did not understand the command",
            ErrorCode::InvalidParameter => "a parameter was not valid",
            ErrorCode::InvalidUser => "no such user",
            ErrorCode::FqdnMissing => "the handle needs its domain (name@hotmail.com)",
            ErrorCode::AlreadyLoggedIn => "already logged in",
            ErrorCode::InvalidUsername => "not a valid handle",
            ErrorCode::InvalidFriendlyName => "not a valid name",
            ErrorCode::ListFull => "the list is full",
            ErrorCode::AlreadyThere => "already on that list",
            ErrorCode::NotOnList => "not on that list",
            ErrorCode::NotOnline => "the user is not online, and MSN cannot keep messages for later",
            ErrorCode::AlreadyInTheMode => "that setting is already on",
            ErrorCode::AlreadyInOppositeList => "the user is on the opposite list (allowed and blocked at once)",
            ErrorCode::TooManyGroups => "too many groups",
            ErrorCode::InvalidGroup => "no such group",
            ErrorCode::NotInGroup => "the contact is not in that group",
            ErrorCode::GroupNameExists => "a group of that name exists",
            ErrorCode::GroupNameTooLong => "the group name is too long",
            ErrorCode::CannotRemoveGroupZero => "group 0 cannot be removed",
            ErrorCode::SwitchboardFailed => "the conversation could not be opened",
            ErrorCode::NotifyXfrFailed => "the transfer failed",
            ErrorCode::RequiredFieldsMissing => "a required field is missing",
            ErrorCode::NotLoggedIn => "not logged in",
            ErrorCode::InternalServer | ErrorCode::DbServer => "the server failed; try again later",
            ErrorCode::CommandDisabled => "this version of the protocol does not have that command",
            ErrorCode::ChallengeFailed => "the answer to the server's challenge was wrong",
            ErrorCode::ServerBusy | ErrorCode::ServerUnavailable => "the server is busy; try again later",
            ErrorCode::ServerGoingDown => "the server is going down",
            ErrorCode::UserTooActive => "too much at once; slow down",
            ErrorCode::NotExpected => "the command was not expected now",
            ErrorCode::AuthenticationFailed => "wrong handle or password",
            ErrorCode::NotAllowedWhenOffline => "not allowed while appearing offline",
            ErrorCode::NotAcceptingNewUsers => "the server takes no new users",
        }
    }
}

/// A refusal by number as a sentence (the number itself when it is not a known code).
pub fn describe(number: u16) -> String {
    match ErrorCode::from_number(number) {
        Some(code) => code.description().to_owned(),
        None => format!("refused with error {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_found_by_its_number() {
        for code in ALL {
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
        }
        assert_eq!(describe(217), "the user is not online, and MSN cannot keep messages for later");
        assert_eq!(describe(911), "wrong handle or password");
        assert_eq!(describe(999), "refused with error 999");
    }
}
