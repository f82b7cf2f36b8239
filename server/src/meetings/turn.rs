//! ICE servers for meeting clients, with TURN credentials in the TURN REST scheme coturn
//! speaks (`use-auth-secret`): username `<expiry unix time>:<who>`, password
//! base64(HMAC-SHA1(secret, username)).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::config::Config;

/// The TURN password for `username`.
pub fn credential(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `iceServers` for one participant (`who` names them in the TURN server's logs).
pub fn ice_servers(config: &Config, who: &str, now_unix: i64) -> Value {
    let mut servers = Vec::new();
    if !config.stun_urls.is_empty() {
        servers.push(json!({ "urls": config.stun_urls }));
    }
    if !config.turn_urls.is_empty() {
        let username = format!(
            "{}:{who}",
            now_unix + config.turn_credential_ttl_secs as i64
        );
        servers.push(json!({
            "urls": config.turn_urls,
            "username": username,
            "credential": credential(&config.turn_secret, &username),
        }));
    }
    Value::Array(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        // HMAC-SHA1("secret", "1700000000:alice"), computed independently with
        // `printf %s 1700000000:alice | openssl dgst -sha1 -hmac secret -binary | base64`.
        assert_eq!(
            credential("secret", "1700000000:alice"),
            "d8soP47RbdIKLDUOpnJPVQyq5Ts="
        );
    }

    #[test]
    fn ice_servers_carry_expiring_turn_credentials() {
        let config = Config {
            stun_urls: vec!["stun:turn.example.com:3478".into()],
            turn_urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
            turn_secret: "s3cret".into(),
            turn_credential_ttl_secs: 600,
            ..Config::default()
        };
        let servers = ice_servers(&config, "u1", 1000);
        assert_eq!(servers[0]["urls"][0], "stun:turn.example.com:3478");
        assert_eq!(servers[1]["username"], "1600:u1");
        assert_eq!(servers[1]["credential"], credential("s3cret", "1600:u1"));
        assert_eq!(ice_servers(&Config::default(), "u1", 0), json!([]));
    }
}
