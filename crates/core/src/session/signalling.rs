//! The signalling connection machine (docs/PROTOCOL.md §7.4-§7.5): one logical connection made
//! of successive sockets, with an outbound queue, heartbeats and a bounded reconnection budget.

use std::collections::VecDeque;

use super::Millis;

/// Delay unit of the linear reconnect backoff (`100 ms × attempt`).
pub const RECONNECT_STEP_MS: Millis = 100;
/// A socket that stayed open this long resets the reconnect counter.
pub const STABLE_AFTER_MS: Millis = 5000;
/// Reconnection budget while an ICE restart episode is running.
pub const ICE_RESTART_RECONNECT_BUDGET: u32 = 24;

/// What the connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// A socket was asked for and has not opened yet.
    Connecting,
    /// The current socket is open.
    Open,
    /// Waiting to reconnect until the given time.
    Backoff(Millis),
    /// The budget is spent; nothing more will be tried.
    Failed,
    /// Stopped by the client.
    Stopped,
}

/// An IO request of the signalling machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketCommand {
    /// Open a new socket; report with [`Input::SocketOpened`](super::Input::SocketOpened).
    Open {
        /// Id for the new socket, unique over the client's life.
        socket: u32,
        /// Signalling WebSocket URL (§7.1).
        url: String,
    },
    /// Send one text frame.
    Send {
        /// Socket to send on.
        socket: u32,
        /// The frame, one signalling envelope (§7.2).
        text: String,
    },
    /// Close a socket; its later callbacks are stale.
    Close {
        /// Socket to close.
        socket: u32,
    },
}

/// The signalling connection of one session.
#[derive(Debug)]
pub struct Signalling {
    url: String,
    heartbeat_ms: Millis,
    heartbeat_text: String,
    max_reconnects: u32,
    extended_budget: bool,
    socket: u32,
    state: SocketState,
    attempts: u32,
    queue: VecDeque<String>,
    next_heartbeat: Option<Millis>,
    stable_at: Option<Millis>,
}

impl Signalling {
    /// A connection to `url`; `first_socket` is the id of the first socket (ids must be unique
    /// across the client's whole life, so that late callbacks of old sockets are recognised).
    pub fn new(
        url: String,
        heartbeat_text: String,
        heartbeat_ms: Millis,
        max_reconnects: u32,
        first_socket: u32,
    ) -> Signalling {
        Signalling {
            url,
            heartbeat_ms,
            heartbeat_text,
            max_reconnects,
            extended_budget: false,
            socket: first_socket,
            state: SocketState::Stopped,
            attempts: 0,
            queue: VecDeque::new(),
            next_heartbeat: None,
            stable_at: None,
        }
    }

    /// What the connection is doing now.
    pub fn state(&self) -> SocketState {
        self.state
    }

    /// Id of the current socket.
    pub fn socket(&self) -> u32 {
        self.socket
    }

    /// Whether the current socket is open, so frames go out now rather than queue.
    pub fn is_open(&self) -> bool {
        self.state == SocketState::Open
    }

    /// Whether the connection is permanently over (failed or stopped).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, SocketState::Failed | SocketState::Stopped)
    }

    /// Reconnect attempts made since the last stable open.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn budget(&self) -> u32 {
        if self.extended_budget {
            self.max_reconnects.max(ICE_RESTART_RECONNECT_BUDGET)
        } else {
            self.max_reconnects
        }
    }

    /// Opens the first socket.
    pub fn connect(&mut self, out: &mut Vec<SocketCommand>) {
        self.state = SocketState::Connecting;
        out.push(SocketCommand::Open {
            socket: self.socket,
            url: self.url.clone(),
        });
    }

    /// Sends `text` now if the socket is open, else queues it for the next open.
    pub fn send(&mut self, text: String, out: &mut Vec<SocketCommand>) {
        match self.state {
            SocketState::Open => out.push(SocketCommand::Send {
                socket: self.socket,
                text,
            }),
            SocketState::Failed | SocketState::Stopped => {}
            _ => self.queue.push_back(text),
        }
    }

    /// The socket `socket` opened: flush the queue in order, then start heartbeats.
    pub fn on_open(&mut self, socket: u32, now: Millis, out: &mut Vec<SocketCommand>) {
        if socket != self.socket || self.state != SocketState::Connecting {
            return;
        }
        self.state = SocketState::Open;
        while let Some(text) = self.queue.pop_front() {
            out.push(SocketCommand::Send { socket, text });
        }
        self.next_heartbeat = Some(now + self.heartbeat_ms);
        self.stable_at = Some(now + STABLE_AFTER_MS);
    }

    /// The socket `socket` closed (or failed to open). Returns true when this close spent the
    /// budget, i.e. the connection is now permanently failed.
    pub fn on_close(&mut self, socket: u32, now: Millis) -> bool {
        if socket != self.socket || self.is_dead() {
            return false;
        }
        self.next_heartbeat = None;
        self.stable_at = None;
        self.attempts += 1;
        if self.attempts <= self.budget() {
            self.state =
                SocketState::Backoff(now + RECONNECT_STEP_MS * Millis::from(self.attempts));
            false
        } else {
            self.state = SocketState::Failed;
            self.queue.clear();
            true
        }
    }

    /// Abandons the current socket and opens a new one at once with a fresh counter and the
    /// enlarged budget (first ICE-restart attempt, §8.5 step 5).
    pub fn force_reconnect(&mut self, next_socket: u32, out: &mut Vec<SocketCommand>) {
        if self.is_dead() {
            return;
        }
        if matches!(self.state, SocketState::Open | SocketState::Connecting) {
            out.push(SocketCommand::Close {
                socket: self.socket,
            });
        }
        self.extended_budget = true;
        self.attempts = 0;
        self.next_heartbeat = None;
        self.stable_at = None;
        self.socket = next_socket;
        self.connect(out);
    }

    /// The ICE-restart episode is over: back to the configured budget.
    pub fn end_extended_budget(&mut self) {
        self.extended_budget = false;
    }

    /// Stops for good (client teardown).
    pub fn stop(&mut self, out: &mut Vec<SocketCommand>) {
        if matches!(self.state, SocketState::Open | SocketState::Connecting) {
            out.push(SocketCommand::Close {
                socket: self.socket,
            });
        }
        self.state = SocketState::Stopped;
        self.queue.clear();
        self.next_heartbeat = None;
        self.stable_at = None;
    }

    /// Runs due timers. `next_socket` supplies an id when a reconnect is due.
    pub fn on_timeout(
        &mut self,
        now: Millis,
        next_socket: &mut dyn FnMut() -> u32,
        out: &mut Vec<SocketCommand>,
    ) {
        match self.state {
            SocketState::Backoff(at) if now >= at => {
                self.socket = next_socket();
                self.connect(out);
            }
            SocketState::Open => {
                if let Some(at) = self.stable_at.filter(|&t| now >= t) {
                    let _ = at;
                    self.attempts = 0;
                    self.stable_at = None;
                }
                // Bounded catch-up: after a long stall send one heartbeat, not a burst.
                if let Some(at) = self.next_heartbeat.filter(|&t| now >= t) {
                    out.push(SocketCommand::Send {
                        socket: self.socket,
                        text: self.heartbeat_text.clone(),
                    });
                    let mut next = at + self.heartbeat_ms;
                    if next <= now {
                        next = now + self.heartbeat_ms;
                    }
                    self.next_heartbeat = Some(next);
                }
            }
            _ => {}
        }
    }

    /// The earliest time this machine needs a timeout.
    pub fn next_timeout(&self) -> Option<Millis> {
        match self.state {
            SocketState::Backoff(at) => Some(at),
            SocketState::Open => [self.next_heartbeat, self.stable_at]
                .into_iter()
                .flatten()
                .min(),
            _ => None,
        }
    }

    /// Messages waiting for an open socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(max: u32) -> (Signalling, Vec<SocketCommand>) {
        let mut s = Signalling::new("ws://h/ws?session_id=s".into(), "HB".into(), 5000, max, 1);
        let mut out = Vec::new();
        s.connect(&mut out);
        (s, out)
    }

    #[test]
    fn queues_until_open_then_flushes_in_order_before_heartbeats() {
        let (mut s, mut out) = machine(5);
        out.clear();
        s.send("a".into(), &mut out);
        s.send("b".into(), &mut out);
        assert!(out.is_empty());
        s.on_open(1, 1000, &mut out);
        let texts: Vec<_> = out
            .iter()
            .map(|c| match c {
                SocketCommand::Send { text, .. } => text.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(texts, ["a", "b"]);
        assert_eq!(s.next_timeout(), Some(6000));
    }

    #[test]
    fn heartbeat_every_interval_after_open() {
        let (mut s, mut out) = machine(5);
        s.on_open(1, 0, &mut out);
        out.clear();
        let mut ids = || 99;
        s.on_timeout(4999, &mut ids, &mut out);
        assert!(out.is_empty());
        s.on_timeout(5000, &mut ids, &mut out);
        s.on_timeout(10_000, &mut ids, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(s.next_timeout(), Some(15_000));
    }

    #[test]
    fn reconnects_linearly_then_fails_after_the_budget() {
        let (mut s, mut out) = machine(2);
        let mut next = 1;
        let mut ids = || {
            next += 1;
            next
        };
        assert!(!s.on_close(1, 0));
        assert_eq!(s.state(), SocketState::Backoff(100));
        s.on_timeout(100, &mut ids, &mut out);
        assert_eq!(s.socket(), 2);
        assert!(!s.on_close(1, 150), "a stale socket is ignored");
        assert!(!s.on_close(2, 200));
        assert_eq!(s.state(), SocketState::Backoff(400));
        s.on_timeout(400, &mut ids, &mut out);
        assert!(s.on_close(3, 500), "third close exceeds a budget of 2");
        assert_eq!(s.state(), SocketState::Failed);
    }

    #[test]
    fn five_stable_seconds_reset_the_counter() {
        let (mut s, mut out) = machine(1);
        let mut ids = || 2;
        assert!(!s.on_close(1, 0));
        s.on_timeout(100, &mut ids, &mut out);
        s.on_open(2, 200, &mut out);
        s.on_timeout(5200, &mut ids, &mut out);
        assert_eq!(s.attempts(), 0);
        assert!(!s.on_close(2, 6000), "budget is available again");
    }

    #[test]
    fn forced_reconnect_uses_the_enlarged_budget() {
        let (mut s, mut out) = machine(1);
        s.on_open(1, 0, &mut out);
        s.force_reconnect(2, &mut out);
        assert!(out.contains(&SocketCommand::Close { socket: 1 }));
        for i in 0..24 {
            assert!(!s.on_close(s.socket(), 0), "close {i} within 24");
            let mut ids = || 3 + i;
            s.on_timeout(100_000, &mut ids, &mut out);
        }
        assert!(s.on_close(s.socket(), 0));
    }
}
