//! Settings: defaults, then an optional TOML file, then `CONVENE_*` environment
//! variables, then command-line flags, each layer beating the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting of the server. `config.example.toml` documents each key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Directory for the SQLite database, generated secrets and uploaded files.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means SQLite at `<data_dir>/convene.db`.
    pub database_url: String,
    /// URL people use to reach the server (links in invites and the setup link).
    /// Empty means `http://<listen address>`.
    pub public_url: String,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Serve the web client from this directory instead of the embedded copy (development).
    pub web_dir: Option<PathBuf>,
    /// HMAC key for access tokens; empty means generated into `<data_dir>/jwt.key`.
    pub jwt_secret: String,
    /// Lifetime of access tokens in seconds.
    pub access_token_ttl_secs: u64,
    /// A session that is not refreshed for this many days ends.
    pub session_ttl_days: u64,
    /// Largest accepted JSON request body in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted avatar image in bytes.
    pub max_avatar_bytes: usize,
    /// Trust `X-Forwarded-For` for the client address (only behind a reverse proxy you run).
    pub trust_proxy_headers: bool,
    /// Redis URL (`redis://host:6379`) to run several nodes together; empty for one node.
    pub redis_url: String,
    /// Maximum database connections in the pool.
    pub database_max_connections: u32,
    /// Sign-in attempts allowed per account per minute.
    pub login_attempts_per_account_per_minute: u32,
    /// Sign-in attempts allowed per client address per minute.
    pub login_attempts_per_ip_per_minute: u32,
    /// Registrations (and setup attempts) allowed per client address per hour.
    pub registrations_per_ip_per_hour: u32,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// Largest file upload in bytes.
    pub max_upload_bytes: u64,
    /// Read receipts are tracked in channels with at most this many members (and all DMs).
    pub receipts_max_channel_members: i64,
    /// Seconds between reminders of unacknowledged DING messages.
    pub ding_reminder_interval_secs: u64,
    /// Events queued per websocket connection; a client further behind is disconnected.
    pub ws_queue_len: usize,
    /// Address the UDP media socket binds (all meetings share one socket).
    pub media_ip: String,
    /// UDP port for all meeting media; 0 picks a free port (tests).
    pub media_port: u16,
    /// Address put in ICE candidates when the server is behind NAT (1:1); empty means the
    /// bind address, or when that is a wildcard, the address of the default route.
    pub media_public_ip: String,
    /// STUN server URLs handed to meeting clients (`stun:host:3478`).
    pub stun_urls: Vec<String>,
    /// TURN server URLs handed to meeting clients (`turn:host:3478?transport=udp`).
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN server (coturn `static-auth-secret`); credentials are
    /// issued per participant with the TURN REST scheme.
    pub turn_secret: String,
    /// Lifetime of issued TURN credentials in seconds.
    pub turn_credential_ttl_secs: u64,
    /// Default maximum number of people in one meeting.
    pub meeting_max_participants: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            public_url: String::new(),
            log_format: "text".into(),
            web_dir: None,
            jwt_secret: String::new(),
            access_token_ttl_secs: 900,
            session_ttl_days: 30,
            max_body_bytes: 1024 * 1024,
            max_avatar_bytes: 5 * 1024 * 1024,
            trust_proxy_headers: false,
            redis_url: String::new(),
            database_max_connections: 10,
            login_attempts_per_account_per_minute: 10,
            login_attempts_per_ip_per_minute: 60,
            registrations_per_ip_per_hour: 30,
            shutdown_grace_secs: 10,
            max_upload_bytes: 100 * 1024 * 1024,
            receipts_max_channel_members: 500,
            ding_reminder_interval_secs: 300,
            ws_queue_len: 1024,
            media_ip: "0.0.0.0".into(),
            media_port: 7882,
            media_public_ip: String::new(),
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: String::new(),
            turn_credential_ttl_secs: 12 * 3600,
            meeting_max_participants: 50,
        }
    }
}

/// Flags that override the file and the environment. Shared by every subcommand.
#[derive(Debug, Default, Clone, Args, Serialize)]
pub struct Overrides {
    /// Address to listen on [env: CONVENE_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Data directory [env: CONVENE_DATA_DIR] [default: ./data]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite:// or postgres:// [env: CONVENE_DATABASE_URL] [default: SQLite in the data dir]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Public base URL, e.g. https://chat.example.com [env: CONVENE_PUBLIC_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Log format: text or json [env: CONVENE_LOG_FORMAT]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// Serve the web client from this directory (development) [env: CONVENE_WEB_DIR]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<PathBuf>,
}

/// The names of all settings (the keys of the TOML file).
fn setting_names() -> Vec<String> {
    // Serialising the defaults lists every field, so this cannot miss a new one.
    let mut names: Vec<String> = toml::Table::try_from(Config::default())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    // Optional settings are absent from the serialised defaults.
    names.push("web_dir".into());
    names
}

impl Config {
    /// Layer defaults, the TOML file, `CONVENE_*` variables and flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.exists(), "config file {} not found", file.display());
            figment = figment.merge(Toml::file(file));
        }
        let names = setting_names();
        let config: Config = figment
            // Only variables that name a setting: others share the prefix (CONVENE_LOG,
            // CONVENE_CONFIG, test harness variables) but are not settings.
            .merge(
                Env::prefixed("CONVENE_")
                    .only(&names.iter().map(String::as_str).collect::<Vec<_>>()),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listen.parse::<SocketAddr>().with_context(|| {
            format!(
                "listen: {:?} is not an address like 127.0.0.1:8080",
                self.listen
            )
        })?;
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be \"text\" or \"json\""
        );
        anyhow::ensure!(
            self.access_token_ttl_secs >= 30,
            "access_token_ttl_secs must be at least 30"
        );
        anyhow::ensure!(
            self.session_ttl_days >= 1,
            "session_ttl_days must be at least 1"
        );
        self.media_ip
            .parse::<std::net::IpAddr>()
            .with_context(|| format!("media_ip: {:?} is not an IP address", self.media_ip))?;
        if !self.media_public_ip.is_empty() {
            self.media_public_ip
                .parse::<std::net::IpAddr>()
                .with_context(|| {
                    format!(
                        "media_public_ip: {:?} is not an IP address",
                        self.media_public_ip
                    )
                })?;
        }
        anyhow::ensure!(
            self.turn_urls.is_empty() || !self.turn_secret.is_empty(),
            "turn_urls needs turn_secret (the TURN server's shared secret)"
        );
        anyhow::ensure!(
            (2..=500).contains(&self.meeting_max_participants),
            "meeting_max_participants must be between 2 and 500"
        );
        if !self.public_url.is_empty() {
            anyhow::ensure!(
                self.public_url.starts_with("http://") || self.public_url.starts_with("https://"),
                "public_url must start with http:// or https://"
            );
        }
        Ok(())
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("convene.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The effective settings as TOML with secrets redacted, for `convene config`.
    pub fn redacted_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        if !shown.jwt_secret.is_empty() {
            shown.jwt_secret = "<redacted>".into();
        }
        if !shown.turn_secret.is_empty() {
            shown.turn_secret = "<redacted>".into();
        }
        shown.database_url = redact_url_password(&self.database_url);
        shown.redis_url = redact_url_password(&self.redis_url);
        Ok(toml::to_string_pretty(&shown)?)
    }
}

/// Hide the password in `scheme://user:password@host/...`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url_password("postgres://app:s3cret@db/convene"),
            "postgres://app:<redacted>@db/convene"
        );
        assert_eq!(
            redact_url_password("sqlite://./data/x.db"),
            "sqlite://./data/x.db"
        );
    }

    #[test]
    fn flags_beat_file_and_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n",
        )
        .expect("write");
        let overrides = Overrides {
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &overrides).expect("load");
        assert_eq!(c.listen, "127.0.0.1:9100");
        assert_eq!(c.log_format, "json");
        assert_eq!(c.access_token_ttl_secs, 900);
    }

    #[test]
    fn the_example_file_documents_every_setting_with_its_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.example.toml");
        let text = std::fs::read_to_string(&path).expect("config.example.toml");
        // Uncomment optional keys so every documented key is parsed.
        let text = text.replace("# web_dir", "web_dir");
        let from_file: toml::Table = toml::from_str(&text).expect("valid TOML");
        let defaults = toml::Table::try_from(Config::default()).expect("serialize");
        for key in defaults.keys() {
            assert!(
                from_file.contains_key(key),
                "config.example.toml lacks {key}"
            );
            assert_eq!(
                from_file[key], defaults[key],
                "example value of {key} is not the default"
            );
        }
        for key in from_file.keys().filter(|k| *k != "web_dir") {
            assert!(
                defaults.contains_key(key),
                "config.example.toml documents unknown key {key}"
            );
        }
        Config::load(Some(&path), &Overrides::default()).expect("the example loads");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").expect("write");
        assert!(Config::load(Some(&file), &Overrides::default()).is_err());
    }
}
