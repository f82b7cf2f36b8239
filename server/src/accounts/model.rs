//! Account types: the API's `User`, the stored row, and parsed input newtypes.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::store::ids::{UserId, rfc3339};

/// A person as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    /// `en` or `zh-CN`.
    pub locale: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// Where the avatar image is served, or null when there is none.
    pub avatar_url: Option<String>,
    /// Custom status text, e.g. "In meetings until 3pm".
    pub status_text: String,
    /// Whether others see when I have read their messages (when the workspace lets
    /// people choose).
    pub share_read_receipts: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// A `users` row (without the password hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub locale: String,
    pub time_zone: String,
    pub avatar_updated_at: Option<i64>,
    pub deactivated_at: Option<i64>,
    pub status_text: String,
    pub share_read_receipts: bool,
    pub created_at: i64,
}

/// Columns selected into a `UserRow`.
pub const USER_COLUMNS: &str =
    "id, email, username, display_name, locale, time_zone, avatar_updated_at, deactivated_at,
    status_text, share_read_receipts, created_at";

pub fn avatar_url(id: UserId, updated_at: Option<i64>) -> Option<String> {
    updated_at.map(|v| format!("/api/users/{id}/avatar?v={v}"))
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            avatar_url: avatar_url(r.id, r.avatar_updated_at),
            id: r.id,
            email: r.email,
            username: r.username,
            display_name: r.display_name,
            locale: r.locale,
            time_zone: r.time_zone,
            status_text: r.status_text,
            share_read_receipts: r.share_read_receipts,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A normalised (trimmed, lowercased) email address.
#[derive(Debug, Clone)]
pub struct Email(pub String);

impl Email {
    pub fn parse(raw: &str) -> AppResult<Email> {
        let e = raw.trim().to_lowercase();
        let bad = || AppError::Validation("email must be an address like name@example.com".into());
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Email(e))
    }
}

/// A username: 3–32 of `a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone)]
pub struct Username(pub String);

impl Username {
    pub fn parse(raw: &str) -> AppResult<Username> {
        let u = raw.trim().to_lowercase();
        let ok_len = (3..=32).contains(&u.chars().count());
        let ok_chars = u
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        let ok_start = u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Username(u))
        } else {
            Err(AppError::Validation(
                "username must be 3-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
                    .into(),
            ))
        }
    }
}

/// A display name: 1–64 characters after trimming, no control characters.
pub fn display_name(raw: &str) -> AppResult<String> {
    let n = raw.trim();
    let len = n.chars().count();
    if len == 0 || len > 64 || n.chars().any(char::is_control) {
        return Err(AppError::Validation(
            "display name must be 1-64 characters without control characters".into(),
        ));
    }
    Ok(n.to_owned())
}

/// Supported interface languages.
pub const LOCALES: [&str; 2] = ["en", "zh-CN"];

pub fn locale(raw: &str) -> AppResult<String> {
    LOCALES
        .iter()
        .find(|l| l.eq_ignore_ascii_case(raw))
        .map(|l| (*l).to_owned())
        .ok_or_else(|| AppError::Validation("locale must be \"en\" or \"zh-CN\"".into()))
}

/// An IANA time zone name such as `Europe/Berlin` or `UTC`, as the tz database knows it.
pub fn time_zone(raw: &str) -> AppResult<String> {
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            AppError::Validation("time_zone must be an IANA name like Asia/Shanghai or UTC".into())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").expect("ok").0,
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a b@x.com",
            "a@b@c.com",
            "a@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_are_checked() {
        assert_eq!(Username::parse("Ann.Lee").expect("ok").0, "ann.lee");
        for bad in ["ab", "_ann", "ann lee", "安妮安妮", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_and_locales() {
        assert!(time_zone("Asia/Shanghai").is_ok());
        assert!(time_zone("UTC").is_ok());
        assert!(time_zone("../etc/passwd").is_err());
        assert!(time_zone("Mars/Olympus").is_err());
        assert_eq!(locale("zh-cn").expect("ok"), "zh-CN");
        assert!(locale("fr").is_err());
        assert!(display_name("  王小明 ").is_ok());
        assert!(display_name("a\u{0007}").is_err());
    }
}
