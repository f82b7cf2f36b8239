//! Guest tokens: a person without an account joins one meeting under a display name.
//! The token names that meeting only; it is refused anywhere else.

use serde::{Deserialize, Serialize};

use crate::auth::tokens::TokenKeys;
use crate::store::ids::MeetingId;

/// The `aud` of guest tokens; access tokens have none.
const AUDIENCE: &str = "convene-meeting-guest";
/// Guest tokens last this long.
pub const TTL_SECS: i64 = 12 * 3600;

/// Claims of a guest token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guest {
    /// Guest id (random, stable for this token).
    pub gid: String,
    /// The meeting this token admits to.
    pub mtg: MeetingId,
    /// Display name.
    pub name: String,
    pub aud: String,
    pub exp: i64,
}

/// Issue a token for `name` in `meeting`; returns it and its expiry (unix seconds).
pub fn issue(keys: &TokenKeys, meeting: MeetingId, name: &str) -> anyhow::Result<(String, i64)> {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + TTL_SECS;
    let claims = Guest {
        gid: format!("g_{}", uuid::Uuid::now_v7().simple()),
        mtg: meeting,
        name: name.to_owned(),
        aud: AUDIENCE.to_owned(),
        exp,
    };
    Ok((keys.sign(&claims)?, exp))
}

/// A valid guest token's claims.
pub fn verify(keys: &TokenKeys, token: &str) -> Option<Guest> {
    keys.verify_for(token, AUDIENCE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::{SessionId, UserId};

    #[test]
    fn guest_and_access_tokens_do_not_stand_in_for_each_other() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 900);
        let meeting = MeetingId::new();
        let (token, _) = issue(&keys, meeting, "Ann").expect("issue");
        let guest = verify(&keys, &token).expect("valid");
        assert_eq!((guest.mtg, guest.name.as_str()), (meeting, "Ann"));
        assert!(
            keys.verify(&token).is_none(),
            "a guest token is no access token"
        );
        let access = keys.issue(UserId::new(), SessionId::new()).expect("issue");
        assert!(
            verify(&keys, &access).is_none(),
            "an access token is no guest token"
        );
    }
}
