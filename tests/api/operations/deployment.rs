//! The deployment files, checked without a Docker engine: every `CONVENE_*` variable
//! `docker-compose.yml` sets is a real setting and loads (through `convene config`),
//! the published ports are the ones the server listens on, the TURN secret is one
//! variable feeding both Convene and coturn, and the `Dockerfile` builds with the pinned
//! toolchain and exposes the same ports.
//!
//! No YAML crate is in the tree, so the compose file (which this project writes) is read
//! with a small indentation parser: block mappings, block sequences, flow sequences
//! kept as text, quoted and plain scalars, comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use convene::config::Config;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// --- a small YAML reader ---------------------------------------------------------------

#[derive(Debug, Clone)]
enum Yaml {
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
    Text(String),
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn at(&self, path: &[&str]) -> &Yaml {
        path.iter().fold(self, |node, key| {
            node.get(key)
                .unwrap_or_else(|| panic!("docker-compose.yml lacks {}", path.join(".")))
        })
    }

    fn text(&self) -> &str {
        match self {
            Yaml::Text(t) => t,
            other => panic!("expected a scalar, found {other:?}"),
        }
    }

    fn items(&self) -> Vec<&str> {
        match self {
            Yaml::List(items) => items.iter().map(Yaml::text).collect(),
            other => panic!("expected a list, found {other:?}"),
        }
    }

    fn entries(&self) -> Vec<(&str, &str)> {
        match self {
            Yaml::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.as_str(), v.text()))
                .collect(),
            other => panic!("expected a mapping, found {other:?}"),
        }
    }
}

/// Lines without comments and blank lines, with their indentation.
fn yaml_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .filter_map(|line| {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return None;
            }
            Some((
                line.len() - trimmed.len(),
                strip_comment(trimmed).trim_end().to_owned(),
            ))
        })
        .collect()
}

/// Drop a ` # comment` outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i > 0 && bytes[i - 1] == b' ' => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        s[1..s.len() - 1].to_owned()
    } else {
        s.to_owned()
    }
}

/// `key: value` outside quotes and brackets.
fn split_key(line: &str) -> Option<(&str, &str)> {
    if line.starts_with('"') || line.starts_with('\'') || line.starts_with('[') {
        return None;
    }
    let i = line
        .find(": ")
        .or_else(|| line.ends_with(':').then(|| line.len() - 1))?;
    Some((&line[..i], line[i + 1..].trim()))
}

fn parse_block(lines: &[(usize, String)], pos: &mut usize, indent: usize) -> Yaml {
    let is_list = lines
        .get(*pos)
        .is_some_and(|(_, l)| l == "-" || l.starts_with("- "));
    if is_list {
        let mut items = Vec::new();
        while let Some((i, line)) = lines.get(*pos) {
            if *i != indent || !line.starts_with('-') {
                break;
            }
            items.push(Yaml::Text(unquote(line.trim_start_matches('-'))));
            *pos += 1;
        }
        return Yaml::List(items);
    }
    let mut entries = Vec::new();
    while let Some((i, line)) = lines.get(*pos) {
        if *i < indent {
            break;
        }
        assert_eq!(*i, indent, "unexpected indentation at {line:?}");
        let (key, value) = split_key(line).unwrap_or_else(|| panic!("not a key: {line:?}"));
        *pos += 1;
        let value = if value.is_empty() {
            match lines.get(*pos) {
                Some((next, _)) if *next > indent => {
                    let next = *next;
                    parse_block(lines, pos, next)
                }
                // A list may sit at the key's own indentation.
                Some((next, l)) if *next == indent && l.starts_with("- ") => {
                    parse_block(lines, pos, indent)
                }
                _ => Yaml::Text(String::new()),
            }
        } else {
            Yaml::Text(unquote(value))
        };
        entries.push((unquote(key), value));
    }
    Yaml::Map(entries)
}

fn parse_yaml(text: &str) -> Yaml {
    let lines = yaml_lines(text);
    let mut pos = 0;
    let doc = parse_block(&lines, &mut pos, 0);
    assert_eq!(pos, lines.len(), "unparsed line {:?}", lines.get(pos));
    doc
}

// --- the files -------------------------------------------------------------------------

/// `NAME=value` lines of `.env.example`.
fn env_example() -> BTreeMap<String, String> {
    read(".env.example")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Compose's interpolation: `${VAR}`, `${VAR:?message}`, `${VAR:-default}`.
fn interpolate(value: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing }") + start;
        let inner = &rest[start + 2..end];
        let name = inner.split([':', '-', '?']).next().unwrap_or_default();
        let value = env
            .get(name)
            .unwrap_or_else(|| panic!("${{{name}}} is not defined in .env.example"));
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Names of the variables a value interpolates.
fn variables(value: &str) -> Vec<String> {
    value
        .split("${")
        .skip(1)
        .map(|s| {
            s.split([':', '-', '?', '}'])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The environment variable of every setting (`CONVENE_<KEY>`).
fn setting_variables() -> Vec<String> {
    let table = toml::Table::try_from(Config::default()).expect("serialize the defaults");
    table
        .keys()
        .map(String::as_str)
        .chain(["web_dir"]) // optional: absent from the serialised defaults
        .map(|k| format!("CONVENE_{}", k.to_uppercase()))
        .collect()
}

/// Every `CONVENE_*` word in `text`.
fn convene_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("CONVENE_") {
        let word: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[i + word.len()..];
        words.push(word);
    }
    words
}

fn compose() -> Yaml {
    parse_yaml(&read("docker-compose.yml"))
}

/// The convene service's environment, as written.
fn convene_env(doc: &Yaml) -> BTreeMap<String, String> {
    doc.at(&["services", "convene", "environment"])
        .entries()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{addr} has no port"))
}

/// `--flag=value` of coturn's command line.
fn coturn_flag<'a>(command: &[&'a str], flag: &str) -> Option<&'a str> {
    command
        .iter()
        .find_map(|arg| arg.strip_prefix(&format!("--{flag}=")))
}

#[test]
fn the_yaml_reader_reads_what_the_compose_file_uses() {
    let doc = parse_yaml(
        "a:\n  b: \"x: y\" # note\n  c:\n    - one\n    - 'two # not a comment'\n  d: [1, 2]\n  e:\n  - z\n",
    );
    assert_eq!(doc.at(&["a", "b"]).text(), "x: y");
    assert_eq!(doc.at(&["a", "c"]).items(), ["one", "two # not a comment"]);
    assert_eq!(doc.at(&["a", "d"]).text(), "[1, 2]");
    assert_eq!(doc.at(&["a", "e"]).items(), ["z"]);
}

#[test]
fn every_convene_variable_of_the_deployment_files_is_a_setting() {
    let settings = setting_variables();
    // Read by the binary but not settings: the log filter and the config file path.
    let others = ["CONVENE_LOG", "CONVENE_CONFIG"];
    for file in ["docker-compose.yml", "Dockerfile", ".env.example"] {
        for word in convene_words(&read(file)) {
            assert!(
                settings.contains(&word) || others.contains(&word.as_str()),
                "{file} names {word}, which is not a setting (known: {settings:?})"
            );
        }
    }
    let doc = compose();
    let env = convene_env(&doc);
    for key in env.keys() {
        assert!(
            settings.contains(key),
            "the convene service sets {key}, not a setting"
        );
    }
    for key in [
        "CONVENE_DATABASE_URL",
        "CONVENE_REDIS_URL",
        "CONVENE_LISTEN",
        "CONVENE_PUBLIC_URL",
        "CONVENE_MEDIA_PUBLIC_IP",
        "CONVENE_TURN_URLS",
        "CONVENE_TURN_SECRET",
    ] {
        assert!(
            env.contains_key(key),
            "the convene service does not set {key}"
        );
    }
}

#[test]
fn the_compose_environment_loads_as_a_valid_configuration() {
    let doc = compose();
    let example = env_example();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
    cmd.arg("config");
    for (key, _) in std::env::vars() {
        if key.starts_with("CONVENE_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in convene_env(&doc) {
        cmd.env(key, interpolate(&value, &example));
    }
    let out = cmd.output().expect("run convene config");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the compose environment does not load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let host = &example["PUBLIC_HOST"];
    for expected in [
        "listen = \"0.0.0.0:8080\"".to_owned(),
        format!("public_url = \"https://{host}\""),
        "trust_proxy_headers = true".to_owned(),
        "media_port = 7882".to_owned(),
        format!("media_public_ip = \"{}\"", example["PUBLIC_IP"]),
        format!("\"turn:{host}:3478?transport=udp\""),
        format!("\"turn:{host}:3478?transport=tcp\""),
        "turn_secret = \"<redacted>\"".to_owned(),
        "redis_url = \"redis://redis:6379\"".to_owned(),
        "database_url = \"postgres://convene:<redacted>@postgres:5432/convene\"".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "`convene config` lacks {expected}:\n{text}"
        );
    }
}

#[test]
fn every_interpolated_variable_is_in_the_env_example() {
    let example = env_example();
    for var in variables(&read("docker-compose.yml")) {
        assert!(example.contains_key(&var), ".env.example lacks {var}");
    }
}

#[test]
fn published_ports_are_the_ports_the_server_listens_on() {
    let doc = compose();
    let env = convene_env(&doc);
    let defaults = Config::default();
    let http = port_of(&env["CONVENE_LISTEN"]);
    let media: u16 = env
        .get("CONVENE_MEDIA_PORT")
        .map_or(defaults.media_port, |p| {
            p.parse().expect("CONVENE_MEDIA_PORT")
        });
    assert_eq!(
        media, defaults.media_port,
        "compose moves the default media port"
    );
    let ports = doc.at(&["services", "convene", "ports"]).items();
    let tcp: Vec<&str> = ports
        .iter()
        .copied()
        .filter(|p| !p.ends_with("/udp"))
        .collect();
    assert!(
        tcp.iter().any(|p| port_of(p) == http),
        "no published TCP port reaches CONVENE_LISTEN's port {http}: {ports:?}"
    );
    let udp: Vec<(u16, u16)> = ports
        .iter()
        .filter_map(|p| p.strip_suffix("/udp"))
        .map(|p| {
            let parts: Vec<&str> = p.split(':').collect();
            let inside: u16 = parts[parts.len() - 1].parse().expect("container port");
            let outside: u16 = parts[parts.len() - 2].parse().expect("host port");
            (outside, inside)
        })
        .collect();
    // Browsers are told the port the server binds: it must be the same outside.
    assert_eq!(
        udp,
        [(media, media)],
        "the media port must be published as {media}:{media}/udp"
    );

    let dockerfile = read("Dockerfile");
    let expose = dockerfile
        .lines()
        .find(|l| l.starts_with("EXPOSE "))
        .expect("Dockerfile EXPOSE");
    assert!(expose.contains(&format!("{http}/tcp")), "{expose}");
    assert!(expose.contains(&format!("{media}/udp")), "{expose}");
    assert!(
        dockerfile.contains(&format!("CONVENE_LISTEN=0.0.0.0:{http}")),
        "the image listens elsewhere than compose publishes"
    );
    assert!(
        dockerfile.contains(&format!("http://127.0.0.1:{http}/healthz")),
        "the health check asks another port"
    );
}

#[test]
fn one_turn_secret_feeds_convene_and_coturn() {
    let doc = compose();
    let env = convene_env(&doc);
    let command = doc.at(&["services", "coturn", "command"]).items();
    assert!(
        command.contains(&"--use-auth-secret"),
        "coturn lacks --use-auth-secret"
    );
    let coturn_secret =
        coturn_flag(&command, "static-auth-secret").expect("coturn --static-auth-secret");
    let ours = variables(&env["CONVENE_TURN_SECRET"]);
    assert_eq!(ours.len(), 1, "CONVENE_TURN_SECRET should be one variable");
    assert_eq!(
        variables(coturn_secret),
        ours,
        "Convene and coturn get their TURN secret from different variables"
    );
    assert!(env_example().contains_key(&ours[0]));

    // The URLs Convene hands out name the port coturn listens on.
    let listening: u16 = coturn_flag(&command, "listening-port")
        .map_or(3478, |p| p.parse().expect("coturn --listening-port"));
    let urls = &env["CONVENE_TURN_URLS"];
    let count = urls.matches("turn:").count();
    assert!(count >= 1, "no TURN URL in {urls}");
    assert_eq!(
        urls.matches(&format!(":{listening}?")).count(),
        count,
        "a TURN URL names another port than coturn's {listening}: {urls}"
    );
    // The relay range is the one docs/OPERATIONS.md tells people to open.
    let min = coturn_flag(&command, "min-port").expect("coturn --min-port");
    let max = coturn_flag(&command, "max-port").expect("coturn --max-port");
    let ops = read("docs/OPERATIONS.md");
    assert!(
        ops.contains(&format!("{min}-{max}")),
        "docs/OPERATIONS.md does not name the relay range {min}-{max}"
    );
    // coturn relays to Convene's media address, which browsers are given too.
    assert_eq!(
        coturn_flag(&command, "allowed-peer-ip").map(variables),
        Some(variables(&env["CONVENE_MEDIA_PUBLIC_IP"]))
    );
}

#[test]
fn database_and_redis_urls_name_the_compose_services() {
    let doc = compose();
    let env = convene_env(&doc);
    let pg = doc.at(&["services", "postgres", "environment"]);
    let db_url = &env["CONVENE_DATABASE_URL"];
    let expected = format!(
        "postgres://{}:{}@postgres:5432/{}",
        pg.at(&["POSTGRES_USER"]).text(),
        pg.at(&["POSTGRES_PASSWORD"]).text(),
        pg.at(&["POSTGRES_DB"]).text()
    );
    assert_eq!(db_url, &expected);
    assert!(doc.at(&["services", "redis"]).get("image").is_some());
    assert_eq!(env["CONVENE_REDIS_URL"], "redis://redis:6379");
    assert_eq!(
        doc.at(&["services", "postgres", "image"]).text(),
        "postgres:16"
    );
    assert_eq!(doc.at(&["services", "redis", "image"]).text(), "redis:7");
}

#[test]
fn the_dockerfile_builds_with_the_pinned_toolchain_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let toolchain: toml::Table = toml::from_str(&read("rust-toolchain.toml")).expect("toml");
    let channel = toolchain["toolchain"]["channel"]
        .as_str()
        .expect("toolchain channel");
    let from: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "a builder and a runtime stage: {from:?}");
    assert!(
        from[0].starts_with(&format!("FROM rust:{channel}-bookworm ")),
        "the builder is not rust {channel} on bookworm: {}",
        from[0]
    );
    assert_eq!(from[1], "FROM debian:bookworm-slim");
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && user != "USER 0", "{user}");
    assert!(dockerfile.contains("VOLUME [\"/data\"]"));
    assert!(dockerfile.contains("CONVENE_DATA_DIR=/data"));
    assert!(dockerfile.contains("HEALTHCHECK "));
    // The health check's tool is installed in the runtime stage.
    let runtime = &dockerfile[dockerfile.rfind("FROM ").unwrap_or(0)..];
    assert!(runtime.contains("install -y --no-install-recommends curl"));
}
