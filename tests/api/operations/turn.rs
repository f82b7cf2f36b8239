//! The doctor's TURN check against a real coturn on 127.0.0.1 (`use-auth-secret`, the
//! TURN REST scheme the server's credentials follow): a real Allocate over UDP and TCP
//! with the right secret, a clear 401 with a wrong one, and "nothing listens" for a
//! closed port. Skipped, saying so, only when the `turnserver` binary is not installed
//! (`apt-get install coturn`; `.ci/run` installs it).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convene::config::Config;
use convene::doctor::{self, Status};

use super::doctor::free_port;

/// The coturn binary, when installed.
fn turnserver() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/bin".into(),
            "/usr/sbin".into(),
            "/usr/local/bin".into(),
        ])
        .map(|dir| dir.join("turnserver"))
        .find(|p| p.is_file())
}

/// A coturn on 127.0.0.1 with a shared secret, stopped (killed by its pid) on drop.
struct Coturn {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Coturn {
    /// Start coturn, or `None` (after saying why) when it is not installed.
    fn start(secret: &str) -> Option<Coturn> {
        let Some(bin) = turnserver() else {
            eprintln!(
                "SKIPPED: the TURN test needs coturn's `turnserver` binary (apt-get install \
                 coturn); it is not installed"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("turnserver.conf");
        let d = dir.path().display();
        std::fs::write(
            &conf,
            format!(
                "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n\
                 use-auth-secret\nstatic-auth-secret={secret}\nrealm=convene.test\n\
                 no-tls\nno-dtls\nno-cli\nno-multicast-peers\nno-software-attribute\n\
                 userdb={d}/turndb\npidfile={d}/turnserver.pid\nlog-file=stdout\nsimple-log\n"
            ),
        )
        .expect("write the coturn config");
        let log = std::fs::File::create(dir.path().join("turnserver.log")).expect("log file");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start turnserver");
        let coturn = Coturn { child, port, dir };
        coturn.wait_ready();
        Some(coturn)
    }

    /// Poll with STUN binding requests until coturn answers.
    fn wait_ready(&self) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        // A binding request: type 0x0001, length 0, magic cookie, transaction id.
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        request.extend_from_slice(b"convene-test");
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            let _ = socket.send_to(&request, ("127.0.0.1", self.port));
            if let Ok((n, _)) = socket.recv_from(&mut buf)
                && n >= 20
            {
                return;
            }
        }
        let log =
            std::fs::read_to_string(self.dir.path().join("turnserver.log")).unwrap_or_default();
        panic!(
            "coturn did not answer on UDP {} within 15 s; its log:\n{log}",
            self.port
        );
    }

    fn url(&self, transport: &str) -> String {
        format!("turn:127.0.0.1:{}?transport={transport}", self.port)
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(turn_urls: Vec<String>, secret: &str) -> Config {
    Config {
        turn_urls,
        turn_secret: secret.into(),
        media_ip: "127.0.0.1".into(),
        media_port: free_port(),
        listen: format!("127.0.0.1:{}", free_port()),
        ..Config::default()
    }
}

#[tokio::test]
async fn credentials_from_the_shared_secret_get_a_relay_over_udp_and_tcp() {
    let Some(coturn) = Coturn::start("doctor-shared-secret") else {
        return;
    };
    let (udp, tcp) = (coturn.url("udp"), coturn.url("tcp"));
    let report = doctor::run(&config(
        vec![udp.clone(), tcp.clone()],
        "doctor-shared-secret",
    ))
    .await;
    for url in [&udp, &tcp] {
        let f = report
            .finding(&format!("turn {url}"))
            .unwrap_or_else(|| panic!("no finding for {url}:\n{}", report.render()));
        assert_eq!(f.status, Status::Ok, "{}", report.render());
        assert!(
            f.message
                .contains("granted an allocation (relay 127.0.0.1:"),
            "{}",
            report.render()
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_is_reported_as_refused_credentials() {
    let Some(coturn) = Coturn::start("the-right-secret") else {
        return;
    };
    let url = coturn.url("udp");
    let report = doctor::run(&config(vec![url.clone()], "a-wrong-secret")).await;
    let f = report
        .finding(&format!("turn {url}"))
        .unwrap_or_else(|| panic!("no finding for {url}:\n{}", report.render()));
    assert_eq!(f.status, Status::Fail, "{}", report.render());
    assert!(
        f.message
            .contains("refused the credentials (401 Unauthorized)"),
        "{}",
        report.render()
    );
    let fix = f.fix.clone().unwrap_or_default();
    assert!(fix.contains("static-auth-secret"), "{fix}");
    assert!(report.failed());
}

#[tokio::test]
async fn a_turn_port_where_nothing_listens_is_reported() {
    let port = free_port();
    let udp = format!("turn:127.0.0.1:{port}?transport=udp");
    let tcp = format!("turn:127.0.0.1:{port}?transport=tcp");
    let report = doctor::run(&config(vec![udp.clone(), tcp.clone()], "s3cret")).await;
    for (url, proto) in [(&udp, "UDP"), (&tcp, "TCP")] {
        let f = report
            .finding(&format!("turn {url}"))
            .unwrap_or_else(|| panic!("no finding for {url}:\n{}", report.render()));
        assert_eq!(f.status, Status::Fail, "{}", report.render());
        assert!(
            f.message
                .contains(&format!("nothing listens on 127.0.0.1:{port} over {proto}")),
            "{}",
            report.render()
        );
    }
    // turns: is named but not probed; a URL of another scheme is refused.
    let report = doctor::run(&config(
        vec!["turns:127.0.0.1:5349".into(), "stun:127.0.0.1:3478".into()],
        "s3cret",
    ))
    .await;
    let turns = report
        .finding("turn turns:127.0.0.1:5349")
        .expect("turns finding");
    assert_eq!(turns.status, Status::Info);
    assert!(
        turns.message.contains("not probed (TLS)"),
        "{}",
        turns.message
    );
    let stun = report
        .finding("turn stun:127.0.0.1:3478")
        .expect("stun finding");
    assert_eq!(stun.status, Status::Fail);
    assert!(
        stun.message.contains("does not start with turn: or turns:"),
        "{}",
        stun.message
    );
}
