//! The gateway WebSocket: HELLO, IDENTIFY → READY, heartbeats (op 1 → op 11) with a zombie
//! check, RESUME with replay of missed dispatches, and the disruptions a test can cause
//! (op 7 reconnect, op 9 invalid session, a dropped or closed connection). Just over 400 lines
//! on purpose: one protocol, each opcode handled beside the session state it changes and the
//! test controls that disturb that state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::events::{CloseCause, DiscordEvent};
use super::state::Shared;
use super::{DiscordStandIn, StandInError};

/// Dispatches kept per session for replay on RESUME.
const REPLAY_BUFFER: usize = 1000;
/// Close code Discord uses when a session timed out.
const SESSION_TIMED_OUT: u16 = 4009;

/// What the handle or another task asks of a connection.
#[derive(Debug)]
enum ToConn {
    Frame(Value),
    Close(u16, CloseCause),
    Drop(CloseCause),
}

#[derive(Debug, Clone)]
struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<ToConn>,
}

#[derive(Debug)]
struct Session {
    id: String,
    seq: u64,
    /// Dispatches sent (or queued) with their sequence numbers, for replay.
    sent: VecDeque<Value>,
    /// The live connection carrying the session, if any.
    conn: Option<Conn>,
}

impl Session {
    /// Numbers a dispatch, keeps it for replay and sends it if a connection is live.
    fn dispatch(&mut self, event_name: &str, d: Value) {
        self.seq += 1;
        let frame = json!({ "op": 0, "s": self.seq, "t": event_name, "d": d });
        if self.sent.len() == REPLAY_BUFFER {
            self.sent.pop_front();
        }
        self.sent.push_back(frame.clone());
        if let Some(conn) = &self.conn
            && conn.tx.send(ToConn::Frame(frame)).is_err()
        {
            self.conn = None;
        }
    }
}

/// The known sessions, newest (last identified or resumed) last.
#[derive(Debug, Default)]
pub(super) struct GatewayState {
    sessions: Vec<Session>,
    next_conn: u64,
}

impl GatewayState {
    /// The newest session that has a live connection.
    fn live(&mut self) -> Option<&mut Session> {
        self.sessions.iter_mut().rev().find(|s| s.conn.is_some())
    }

    fn live_conn(&mut self) -> Result<(&mut Session, Conn), StandInError> {
        let session = self.live().ok_or(StandInError::NotConnected)?;
        let conn = session.conn.clone().ok_or(StandInError::NotConnected)?;
        Ok((session, conn))
    }

    pub(super) fn clear(&mut self) {
        self.sessions.clear();
    }
}

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = connection(stream, shared).await {
                tracing::debug!("stand-in gateway connection ended: {e}");
            }
        });
    }
}

fn text(v: &Value) -> WsMessage {
    WsMessage::Text(v.to_string())
}

/// One WebSocket connection, from HELLO to its end.
async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let interval = shared.settings().heartbeat_interval;
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": interval.as_millis() as u64 } });
    ws.send(text(&hello)).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = {
        let mut gateway = shared.lock_gateway();
        gateway.next_conn += 1;
        Conn {
            id: gateway.next_conn,
            tx,
        }
    };
    let mut link = Link {
        shared: &shared,
        conn,
        session: None,
        counted: false,
    };
    let cause = link.run(&mut ws, rx, interval.mul_f64(1.5)).await;
    link.finish(cause);
    Ok(())
}

/// A connection's view of its session.
struct Link<'a> {
    shared: &'a Shared,
    conn: Conn,
    /// The session this connection carries once it identified or resumed.
    session: Option<String>,
    /// Whether it counts in `ready`.
    counted: bool,
}

impl Link<'_> {
    async fn run(
        &mut self,
        ws: &mut WebSocketStream<TcpStream>,
        mut rx: mpsc::UnboundedReceiver<ToConn>,
        zombie_after: std::time::Duration,
    ) -> CloseCause {
        let mut silent_until = tokio::time::Instant::now() + zombie_after;
        loop {
            tokio::select! {
                incoming = ws.next() => {
                    let payload: Value = match incoming {
                        Some(Ok(WsMessage::Text(t))) => {
                            serde_json::from_str(&t).unwrap_or(Value::Null)
                        }
                        Some(Ok(WsMessage::Binary(b))) => {
                            serde_json::from_slice(&b).unwrap_or(Value::Null)
                        }
                        Some(Ok(WsMessage::Close(frame))) => {
                            return CloseCause::ClientClosed(frame.map(|f| u16::from(f.code)));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => return CloseCause::ConnectionLost,
                    };
                    let d = &payload["d"];
                    match payload.get("op").and_then(Value::as_u64) {
                        Some(1) => {
                            self.shared.record(DiscordEvent::Heartbeat { seq: d.as_u64() });
                            silent_until = tokio::time::Instant::now() + zombie_after;
                            if ws.send(text(&json!({ "op": 11 }))).await.is_err() {
                                return CloseCause::ConnectionLost;
                            }
                        }
                        Some(2) => self.identify(d),
                        Some(6) => self.resume(d),
                        _ => {}
                    }
                }
                command = rx.recv() => match command {
                    Some(ToConn::Frame(frame)) => {
                        if ws.send(text(&frame)).await.is_err() {
                            return CloseCause::ConnectionLost;
                        }
                        self.delivered(&frame);
                    }
                    Some(ToConn::Close(code, cause)) => {
                        let frame = CloseFrame { code: code.into(), reason: "".into() };
                        let _ = ws.close(Some(frame)).await;
                        return cause;
                    }
                    Some(ToConn::Drop(cause)) => return cause,
                    None => return CloseCause::ConnectionLost,
                },
                () = tokio::time::sleep_until(silent_until) => {
                    let frame = CloseFrame {
                        code: SESSION_TIMED_OUT.into(),
                        reason: "Session timed out".into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                    return CloseCause::HeartbeatTimeout;
                }
            }
        }
    }

    fn count_ready(&mut self) {
        if !self.counted {
            self.counted = true;
            self.shared.ready.send_modify(|n| *n += 1);
        }
    }

    fn identify(&mut self, d: &Value) {
        let id = format!("standin-session-{}", self.shared.next_snowflake());
        let mut session = Session {
            id: id.clone(),
            seq: 0,
            sent: VecDeque::new(),
            conn: Some(self.conn.clone()),
        };
        let ready = json!({
            "v": 10,
            "user": self.shared.bot_user(),
            "guilds": [],
            "session_id": id,
            "resume_gateway_url": self.shared.gateway_url,
            "application": { "id": self.shared.application_id.to_string(), "flags": 0 },
        });
        {
            let mut gateway = self.shared.lock_gateway();
            detach(&mut gateway, self.conn.id);
            session.dispatch("READY", ready);
            gateway.sessions.push(session);
        }
        self.session = Some(id);
        self.count_ready();
        // Recorded once the session exists, so a test that saw it can dispatch to it.
        self.shared.record(DiscordEvent::Identify {
            token: d["token"].as_str().unwrap_or_default().to_owned(),
            intents: d["intents"].as_u64().unwrap_or_default(),
        });
    }

    fn resume(&mut self, d: &Value) {
        let session_id = d["session_id"].as_str().unwrap_or_default().to_owned();
        let seq = d["seq"].as_u64().unwrap_or_default();
        let replayed = {
            let mut gateway = self.shared.lock_gateway();
            match gateway.sessions.iter().position(|s| s.id == session_id) {
                Some(at) => {
                    detach(&mut gateway, self.conn.id);
                    let mut session = gateway.sessions.remove(at);
                    if let Some(old) = session.conn.replace(self.conn.clone())
                        && old.id != self.conn.id
                    {
                        let _ = old.tx.send(ToConn::Drop(CloseCause::Replaced));
                    }
                    let missed: Vec<Value> = session
                        .sent
                        .iter()
                        .filter(|f| f["s"].as_u64().is_some_and(|s| s > seq))
                        .cloned()
                        .collect();
                    for frame in &missed {
                        let _ = self.conn.tx.send(ToConn::Frame(frame.clone()));
                    }
                    session.dispatch("RESUMED", json!({}));
                    gateway.sessions.push(session);
                    Some(missed.len())
                }
                None => {
                    let _ = self
                        .conn
                        .tx
                        .send(ToConn::Frame(json!({ "op": 9, "d": false })));
                    None
                }
            }
        };
        self.shared.record(DiscordEvent::Resume {
            session_id: session_id.clone(),
            seq,
            accepted: replayed.is_some(),
            replayed: replayed.unwrap_or_default(),
        });
        if replayed.is_some() {
            self.session = Some(session_id);
            self.count_ready();
        }
    }

    /// Starts the callback clock of an interaction once its `INTERACTION_CREATE` went out.
    fn delivered(&self, frame: &Value) {
        if frame["t"] != "INTERACTION_CREATE" {
            return;
        }
        let Some(token) = frame["d"]["token"].as_str() else {
            return;
        };
        if let Some(interaction) = self.shared.lock_world().interactions.get_mut(token) {
            interaction.delivered.get_or_insert_with(Instant::now);
        }
    }

    fn finish(self, cause: CloseCause) {
        detach(&mut self.shared.lock_gateway(), self.conn.id);
        if self.counted {
            self.shared.ready.send_modify(|n| *n = n.saturating_sub(1));
        }
        self.shared.record(DiscordEvent::GatewayClosed {
            session_id: self.session,
            cause,
        });
    }
}

/// Unbinds connection `conn_id` from whichever session it carries.
fn detach(gateway: &mut GatewayState, conn_id: u64) {
    for session in &mut gateway.sessions {
        if session.conn.as_ref().is_some_and(|c| c.id == conn_id) {
            session.conn = None;
        }
    }
}

impl DiscordStandIn {
    /// Sends a dispatch event (op 0) on the newest session. If its connection is down (dropped,
    /// or the client is reconnecting), the dispatch is queued and replayed when the client
    /// resumes; [`StandInError::NotConnected`] if no session exists.
    pub fn dispatch(&self, event_name: &str, d: Value) -> Result<(), StandInError> {
        let mut gateway = self.shared.lock_gateway();
        let session = gateway
            .sessions
            .last_mut()
            .ok_or(StandInError::NotConnected)?;
        session.dispatch(event_name, d);
        Ok(())
    }

    /// The id of the newest session (the one dispatches go to), if any.
    pub fn current_session(&self) -> Option<String> {
        self.shared
            .lock_gateway()
            .sessions
            .last()
            .map(|s| s.id.clone())
    }

    /// Sends op 7 RECONNECT on the newest live connection: the client should reconnect and
    /// resume.
    pub fn request_reconnect(&self) -> Result<(), StandInError> {
        let mut gateway = self.shared.lock_gateway();
        let (_, conn) = gateway.live_conn()?;
        conn.tx
            .send(ToConn::Frame(json!({ "op": 7, "d": null })))
            .map_err(|_| StandInError::NotConnected)
    }

    /// Sends op 9 INVALID SESSION on the newest live connection. When not resumable the
    /// session is forgotten: a RESUME of it gets op 9 `false`, and dispatches fail with
    /// [`StandInError::NotConnected`] until the client identifies again.
    pub fn invalidate_session(&self, resumable: bool) -> Result<(), StandInError> {
        let mut gateway = self.shared.lock_gateway();
        let (session, conn) = gateway.live_conn()?;
        let id = session.id.clone();
        conn.tx
            .send(ToConn::Frame(json!({ "op": 9, "d": resumable })))
            .map_err(|_| StandInError::NotConnected)?;
        if !resumable {
            gateway.sessions.retain(|s| s.id != id);
        }
        Ok(())
    }

    /// Cuts the newest live connection without a close frame. The session stays resumable;
    /// dispatches sent until the client resumes are queued and replayed.
    pub fn drop_gateway(&self) -> Result<(), StandInError> {
        let mut gateway = self.shared.lock_gateway();
        let (session, conn) = gateway.live_conn()?;
        session.conn = None;
        let _ = conn.tx.send(ToConn::Drop(CloseCause::Dropped));
        Ok(())
    }

    /// Closes the newest live connection with a close frame carrying `code` (e.g. 4000, after
    /// which serenity resumes). The session stays known.
    pub fn close_gateway(&self, code: u16) -> Result<(), StandInError> {
        let mut gateway = self.shared.lock_gateway();
        let (session, conn) = gateway.live_conn()?;
        session.conn = None;
        let _ = conn
            .tx
            .send(ToConn::Close(code, CloseCause::ClosedByStandIn(code)));
        Ok(())
    }
}
