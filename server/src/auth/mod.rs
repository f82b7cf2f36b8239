//! Authentication: password hashing and rules, access and refresh tokens, the
//! `CurrentUser` extractor, and rate limits on sign-in and registration.

pub mod current_user;
pub mod password;
pub mod rate_limit;
pub mod tokens;

pub use current_user::CurrentUser;
