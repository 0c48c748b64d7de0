//! Who is asking: the connection's address and whether it came over HTTPS, put on each request
//! by the HTTP service.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visitor {
    pub address: IpAddr,
    /// Cookies are marked `Secure` then.
    pub secure: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        // A request without one did not come through the HTTP service (a test's router call).
        let unknown = Visitor { address: IpAddr::V4(Ipv4Addr::LOCALHOST), secure: false };
        Ok(parts.extensions.get::<Visitor>().copied().unwrap_or(unknown))
    }
}
