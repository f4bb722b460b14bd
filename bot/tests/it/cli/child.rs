//! `mailcheck-bot run` as a child against the Discord stand-in: starting it, its stderr read
//! line by line as it comes, SIGTERM, its `/healthz` endpoint, and what it registered.

use mailcheck_testkit::discord::{CommandScope, DiscordEvent, DiscordStandIn};

use super::{WAIT, bot};

/// The lines a child writes to stderr, read as they come (so the pipe never fills); waits wake
/// on each new line.
///
/// The lines live in the watch channel itself, its lock the only one: a wait's predicate reads
/// them under the channel's read lock and takes no other. (A `Mutex` beside a count channel
/// deadlocked: the reader notified while holding the `Mutex`, a waiter's predicate locked it
/// while holding the channel's read lock, and with both runtime threads frozen no timeout fired.)
pub(crate) struct LogLines {
    lines: tokio::sync::watch::Receiver<Vec<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LogLines {
    fn capture(stderr: tokio::process::ChildStderr) -> Self {
        use tokio::io::AsyncBufReadExt;
        let (tx, lines) = tokio::sync::watch::channel(Vec::new());
        let reader = tokio::spawn(async move {
            let mut stderr = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = stderr.next_line().await {
                tx.send_modify(|lines| lines.push(line));
            }
        });
        Self { lines, reader }
    }

    fn text(&self) -> String {
        self.lines.borrow().join("\n")
    }

    /// The first line containing `needle`, waiting for it until `WAIT` (or the end of the
    /// output) if it has not come yet.
    pub(crate) async fn wait_for(&mut self, needle: &str) -> String {
        let found = |lines: &[String]| lines.iter().find(|l| l.contains(needle)).cloned();
        let waited =
            tokio::time::timeout(WAIT, self.lines.wait_for(|lines| found(lines).is_some())).await;
        let line = match &waited {
            Ok(Ok(lines)) => found(lines),
            _ => None,
        };
        drop(waited);
        line.unwrap_or_else(|| panic!("{needle:?} not logged; stderr:\n{}", self.text()))
    }

    /// Everything, once the child closed stderr.
    pub(crate) async fn finish(self) -> String {
        let closed = tokio::time::timeout(WAIT, self.reader).await;
        let text = self.lines.borrow().join("\n");
        assert!(
            closed.is_ok(),
            "stderr still open {WAIT:?} after the exit:\n{text}"
        );
        text
    }
}

/// `mailcheck-bot run` against the stand-in with `extra` arguments and logs captured. Unless
/// `env` says otherwise no check leaves loopback: blocklists and the egress self-test are off,
/// and the resolver is a closed loopback port.
pub(crate) fn run_bot(
    discord: &DiscordStandIn,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, LogLines) {
    let mut cmd = tokio::process::Command::from(bot());
    cmd.args(["run", "--discord-api", &discord.http_base()])
        .args(extra)
        .env("DISCORD_TOKEN", "standin-token")
        .env("RUST_LOG", "info,serenity=warn")
        .env("MAILCHECK_RESOLVER", "127.0.0.1:9")
        .env("MAILCHECK_DNSBL_ZONES", "none")
        .env("MAILCHECK_EGRESS_CANARIES", "none")
        .env("MAILCHECK_HELO_NAME", "probe.deploy.test")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().unwrap();
    let logs = LogLines::capture(child.stderr.take().unwrap());
    (child, logs)
}

/// Sends SIGTERM and waits for the exit.
pub(crate) async fn terminate(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the bot exits after SIGTERM")
        .unwrap()
}

/// `/healthz` as JSON, with its status code.
pub(crate) async fn healthz(addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let (status, body) = mailcheck_bot::health::probe(addr, WAIT).await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, json)
}

/// The address in the "serving GET /healthz on http://ADDR/healthz" line.
pub(crate) async fn health_addr(logs: &mut LogLines) -> std::net::SocketAddr {
    let line = logs.wait_for("serving GET /healthz on http://").await;
    let start = line.find("http://").unwrap() + "http://".len();
    let rest = &line[start..];
    rest[..rest.find("/healthz").unwrap()].parse().unwrap()
}

/// The path of command registration in `guild`.
pub(crate) fn guild_commands(discord: &DiscordStandIn, guild: u64) -> String {
    format!(
        "/api/v10/applications/{}/guilds/{guild}/commands",
        discord.application_id()
    )
}

/// The commands created so far (each `POST …/commands` answered 201): scope and definition.
pub(crate) fn created_commands(discord: &DiscordStandIn) -> Vec<(CommandScope, serde_json::Value)> {
    discord
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            DiscordEvent::CreateCommand { scope, command } => Some((scope, command)),
            _ => None,
        })
        .collect()
}

/// A bare `GET path` to the health server: the status and the whole answer.
pub(crate) async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut answer))
        .await
        .expect("the health server answers and closes")
        .unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}
