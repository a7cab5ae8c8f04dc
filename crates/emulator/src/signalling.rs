//! One task per signalling WebSocket: forwards text frames to the session task and writes what
//! the session sends back. The session task decides what the frames mean.
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;

use crate::registry::{SessionCmd, SessionHandle, WsOut};

/// Largest frame or message accepted (an SDP offer is ~5-10 KiB; agent audio chunks are the
/// biggest legitimate frames).
pub const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Close code for a session id that does not exist (policy violation).
pub const CLOSE_UNKNOWN_SESSION: u16 = 1008;
/// Close code of a deliberate close by the client (a stop, or the page going away).
pub const CLOSE_NORMAL: u16 = 1000;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub async fn serve(mut socket: WebSocket, session: Option<SessionHandle>) {
    let Some(session) = session else {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_UNKNOWN_SESSION,
                reason: "unknown session".into(),
            })))
            .await;
        return;
    };
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (out_tx, mut out_rx) = mpsc::channel(crate::session::WS_QUEUE);
    if session
        .tx
        .send(SessionCmd::WsAttach { conn, out: out_tx })
        .await
        .is_err()
    {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_UNKNOWN_SESSION,
                reason: "session ended".into(),
            })))
            .await;
        return;
    }
    let mut deliberate = false;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let cmd = match incoming {
                    Some(Ok(Message::Text(text))) => SessionCmd::WsText {
                        conn,
                        text: text.as_str().to_owned(),
                    },
                    Some(Ok(Message::Binary(_))) => SessionCmd::WsInvalid {
                        conn,
                        reason: "binary frames are not part of the protocol; send JSON text".to_owned(),
                    },
                    // Pings are answered by the WebSocket layer itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        deliberate = frame.is_some_and(|f| f.code == CLOSE_NORMAL);
                        break;
                    }
                    // A protocol error (including an oversized frame) or EOF.
                    Some(Err(_)) | None => break,
                };
                if session.tx.send(cmd).await.is_err() {
                    break;
                }
            }
            out = out_rx.recv() => match out {
                Some(WsOut::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Close { code, reason }) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code, reason: reason.into() })))
                        .await;
                    break;
                }
                // Abort, or the session dropped us: go away without a close frame.
                Some(WsOut::Abort) | None => break,
            },
        }
    }
    drop(socket);
    let _ = session
        .tx
        .send(SessionCmd::WsClosed { conn, deliberate })
        .await;
}
