//! Access tokens (short-lived HS256 JWTs naming the session) and opaque refresh
//! tokens (random, stored only as a SHA-256 hash).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::ids::{SessionId, UserId};

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: UserId,
    /// The session the token belongs to; checked on every request.
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys for access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Access token lifetime in seconds.
    pub ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> TokenKeys {
        // Only HS256 is accepted: `none` and RS/HS confusion are refused by construction.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    /// Load the key from config, or from `<data_dir>/jwt.key`, generating it (0600) on first start.
    pub fn load(configured: &str, data_dir: &Path, ttl_secs: u64) -> anyhow::Result<TokenKeys> {
        if !configured.is_empty() {
            anyhow::ensure!(
                configured.len() >= 32,
                "jwt_secret must be at least 32 characters"
            );
            return Ok(TokenKeys::new(configured.as_bytes(), ttl_secs));
        }
        let secret = read_or_create_secret(&data_dir.join("jwt.key"))?;
        Ok(TokenKeys::new(&secret, ttl_secs))
    }

    pub fn issue(&self, user: UserId, session: SessionId) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: user,
            sid: session,
            iat: now,
            exp: now + self.ttl_secs as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .context("signing access token")
    }

    /// Sign other claims (meeting guest tokens) with the same key; they carry an `aud`,
    /// which access-token verification refuses.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .context("signing token")
    }

    /// Verify a token signed by [`TokenKeys::sign`] for `audience`.
    pub fn verify_for<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Option<T> {
        let mut validation = self.validation.clone();
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// Verify signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// Read a base64url secret file, or create one with 64 random bytes and mode 0600.
pub fn read_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return URL_SAFE_NO_PAD
            .decode(text.trim())
            .with_context(|| format!("{} is not a valid key file", path.display()));
    }
    let mut secret = vec![0u8; 64];
    rand::rng().fill_bytes(&mut secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(URL_SAFE_NO_PAD.encode(&secret).as_bytes())?;
    Ok(secret)
}

/// A new opaque random token (refresh tokens, invite and setup links).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of an opaque token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef", 900)
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let (u, s) = (UserId::new(), SessionId::new());
        let t = k.issue(u, s).expect("issue");
        let c = k.verify(&t).expect("verify");
        assert_eq!((c.sub, c.sid), (u, s));
    }

    #[test]
    fn tampered_other_key_and_none_algorithm_are_refused() {
        let k = keys();
        let t = k.issue(UserId::new(), SessionId::new()).expect("issue");
        let other = TokenKeys::new(b"another-key-another-key-another-k", 900);
        assert!(other.verify(&t).is_none());
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push('A');
        assert!(k.verify(&tampered).is_none() || tampered == t);
        // alg=none: header {"alg":"none","typ":"JWT"} with the same claims and no signature.
        let payload = t.split('.').nth(1).expect("payload");
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            payload
        );
        assert!(k.verify(&none).is_none());
        // HS512 with the same secret is still not HS256.
        let claims = k.verify(&t).expect("claims");
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("encode");
        assert!(k.verify(&hs512).is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = keys();
        let claims = Claims {
            sub: UserId::new(),
            sid: SessionId::new(),
            iat: 0,
            exp: time::OffsetDateTime::now_utc().unix_timestamp() - 60,
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding)
            .expect("encode");
        assert!(k.verify(&t).is_none());
    }

    #[test]
    fn secret_file_is_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwt.key");
        let a = read_or_create_secret(&path).expect("create");
        let b = read_or_create_secret(&path).expect("read");
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
