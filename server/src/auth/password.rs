//! Argon2id hashing (OWASP parameters: m=19 MiB, t=2, p=1) on the blocking pool, and
//! the rules a new password must pass.

use std::sync::Arc;

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AppError, AppResult};

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 8;
/// Longest accepted password, in characters (also bounds hashing and strength-check cost).
pub const MAX_LEN: usize = 256;

fn argon2() -> Argon2<'static> {
    // Constant, valid parameters: Params::new cannot fail for them.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords. Holds a dummy hash so that sign-in for an unknown
/// account costs the same time as for a known one.
#[derive(Clone)]
pub struct Passwords {
    dummy_hash: Arc<String>,
}

impl Passwords {
    pub async fn new() -> anyhow::Result<Passwords> {
        let dummy = hash_blocking("convene-dummy-password".into()).await?;
        Ok(Passwords {
            dummy_hash: Arc::new(dummy),
        })
    }

    /// Hash a password on the blocking pool.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        hash_blocking(password).await.map_err(AppError::Internal)
    }

    /// Verify `password` against `hash`, or against the dummy hash when there is no
    /// account, so both paths take the same time. Returns false for `None`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}

async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Refuse passwords that are too short, too long, or easy to guess (common words,
/// sequences, or built from the person's own name and email).
pub fn check_new_password(password: &str, user_inputs: &[&str]) -> AppResult<()> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(AppError::Validation(format!(
            "password must be at least {MIN_LEN} characters"
        )));
    }
    if len > MAX_LEN {
        return Err(AppError::Validation(format!(
            "password must be at most {MAX_LEN} characters"
        )));
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if entropy.score() < zxcvbn::Score::Three {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Err(AppError::Validation(format!(
            "password is too easy to guess{hint}; use a longer phrase or mix in unusual words"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_new_password("short", &[]).is_err());
        assert!(check_new_password("password123", &[]).is_err());
        assert!(check_new_password("qwertyuiop", &[]).is_err());
        assert!(check_new_password("alice.wong@example.com", &["alice.wong@example.com"]).is_err());
        assert!(check_new_password(&"x".repeat(300), &[]).is_err());
    }

    #[test]
    fn a_long_unusual_phrase_is_accepted() {
        assert!(check_new_password("violet-harbor-tangerine-42", &[]).is_ok());
    }

    #[tokio::test]
    async fn hash_verifies_only_the_right_password() {
        let p = Passwords::new().await.expect("passwords");
        let h = p
            .hash("violet-harbor-tangerine-42".into())
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            p.verify("violet-harbor-tangerine-42".into(), Some(h.clone()))
                .await
        );
        assert!(!p.verify("violet-harbor-tangerine-43".into(), Some(h)).await);
        assert!(!p.verify("convene-dummy-password".into(), None).await);
    }
}
