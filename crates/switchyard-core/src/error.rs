use crate::store::StoreError;

/// Why a core operation was refused. Each front maps these to its protocol's own errors.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("no such account")]
    NoSuchAccount,
    #[error("already on that list")]
    AlreadyOnList,
    #[error("on the opposite list (allow and block exclude each other)")]
    OnOppositeList,
    #[error("list is full")]
    ListFull,
    #[error("not on that list")]
    NotOnList,
    #[error("recipient is not online")]
    NotOnline,
    #[error("recipient does not accept contact from this user")]
    NotAllowed,
    #[error("no such group")]
    NoSuchGroup,
    #[error("too many groups")]
    GroupLimit,
    #[error("the recipient's offline queue is full")]
    QueueFull,
    #[error("session is no longer current")]
    SessionGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}
