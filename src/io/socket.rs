//! The signalling WebSocket: one socket with its listeners; dropping it closes it (code 1000)
//! without reporting back.

use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use gloo_events::EventListener;

/// What a socket reports.
pub enum SocketEvent {
    Open,
    Close { code: u16, reason: String },
    Message(String),
}

pub struct Socket {
    pub id: u32,
    ws: WebSocket,
    listeners: Vec<EventListener>,
}

impl Socket {
    /// Opens `url`; `on` receives this socket's events until it is dropped.
    pub fn open(id: u32, url: &str, on: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        let target: &web_sys::EventTarget = ws.as_ref();
        let on_open = on.clone();
        let on_close = on.clone();
        let on_message = on;
        let listeners = vec![
            EventListener::new(target, "open", move |_| on_open(SocketEvent::Open)),
            EventListener::new(target, "close", move |e| {
                let (code, reason) = match e.dyn_ref::<CloseEvent>() {
                    Some(c) => (c.code(), c.reason()),
                    None => (1006, String::new()),
                };
                on_close(SocketEvent::Close { code, reason });
            }),
            EventListener::new(target, "message", move |e| {
                // Only text frames carry the protocol; anything else is ignored (§7.2).
                if let Some(text) = e
                    .dyn_ref::<MessageEvent>()
                    .and_then(|m| m.data().as_string())
                {
                    on_message(SocketEvent::Message(text));
                }
            }),
        ];
        Ok(Socket { id, ws, listeners })
    }

    pub fn send(&self, text: &str) {
        if let Err(e) = self.ws.send_with_str(text) {
            web_sys::console::warn_2(&JsValue::from_str("signalling send failed"), &e);
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Detach first, so closing does not report back into a session that moved on.
        self.listeners.clear();
        // 1000: a deliberate close (stop, replaced socket, page going away), not a failure.
        let _ = self.ws.close_with_code(1000);
    }
}
