//! Offer/answer and ICE bookkeeping (docs/PROTOCOL.md §8.3, §8.5): remote candidates wait for
//! the answer, answers are only taken while an offer is outstanding, and a failed connection is
//! restarted with a bounded number of ICE-restart offers.

use crate::wire::signalling::IceCandidate;

use super::Millis;

/// Restart offers per episode before the session is given up.
pub const MAX_ICE_RESTARTS: u32 = 3;
/// How long `disconnected` may last before a restart starts.
pub const DISCONNECTED_GRACE_MS: Millis = 2000;
/// How long a restart offer may wait for the connection to recover.
pub const RESTART_WATCHDOG_MS: Millis = 3000;
/// How long a restart waits for the signalling socket.
pub const SOCKET_WAIT_MS: Millis = 5000;
/// How long the first connection may take from its offer to `connected` before it is treated as
/// `failed`. Chromium reports `failed` by itself only after checks ran and timed out; a
/// connection whose answer never comes, or that never gathered a local candidate (seen in
/// back-to-back sessions on a loaded machine), stays `new` forever, and without this deadline
/// its session would hang unreported.
pub const FIRST_CONNECT_TIMEOUT_MS: Millis = 10_000;

/// `iceConnectionState`, reduced to what matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    Connected,
    Disconnected,
    Failed,
    Other,
}

impl IceState {
    pub fn parse(s: &str) -> IceState {
        match s {
            "connected" | "completed" => IceState::Connected,
            "disconnected" => IceState::Disconnected,
            "failed" => IceState::Failed,
            _ => IceState::Other,
        }
    }
}

/// What the session must do after a negotiation step.
#[derive(Debug, Clone, PartialEq)]
pub enum NegotiationEffect {
    CreateOffer {
        ice_restart: bool,
    },
    AddRemoteCandidate(IceCandidate),
    SendCandidate(IceCandidate),
    /// First restart attempt: abandon the socket and open a fresh one.
    ForceNewSocket,
    /// Later attempts: go on now if the socket is open (or give up if signalling is dead).
    CheckSocket,
    /// The connection cannot be saved: `WEBRTC_FAILURE`.
    Fatal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdp {
    Stable,
    /// `createOffer`/`setLocalDescription` in progress.
    Creating,
    HaveLocalOffer,
    /// An answer is being applied.
    Applying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    WaitSocket(Millis),
    AwaitAnswer { deadline: Millis, extended: bool },
    Retry(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Restart {
    attempts: u32,
    step: Step,
}

#[derive(Debug, Clone)]
pub struct Negotiation {
    sdp: Sdp,
    /// The outstanding offer is the first one of the session.
    initial: bool,
    answer_applied: bool,
    remote_buffer: Vec<IceCandidate>,
    held_local: Vec<IceCandidate>,
    ice: IceState,
    disconnected_at: Option<Millis>,
    /// Set from the first offer until ICE first connects; never while a restart runs (a restart
    /// started by it clears it, and restart offers do not arm it).
    connect_deadline: Option<Millis>,
    restart: Option<Restart>,
}

impl Default for Negotiation {
    fn default() -> Self {
        Negotiation {
            sdp: Sdp::Stable,
            initial: false,
            answer_applied: false,
            remote_buffer: Vec::new(),
            held_local: Vec::new(),
            ice: IceState::Other,
            disconnected_at: None,
            connect_deadline: None,
            restart: None,
        }
    }
}

impl Negotiation {
    pub fn begin_initial_offer(&mut self) {
        self.sdp = Sdp::Creating;
        self.initial = true;
    }

    /// The offer is set locally; the caller sends it, then these effects (held candidates).
    pub fn on_local_offer(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        self.sdp = Sdp::HaveLocalOffer;
        // `initial` outlives the first offer when its answer never came: restart offers then
        // still count as initial, but have their own watchdog.
        if self.initial && self.restart.is_none() {
            self.connect_deadline = Some(now + FIRST_CONNECT_TIMEOUT_MS);
        }
        self.held_local
            .drain(..)
            .map(NegotiationEffect::SendCandidate)
            .collect()
    }

    pub fn on_offer_failed(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        self.sdp = Sdp::Stable;
        match &mut self.restart {
            Some(r) => {
                r.step = Step::Retry(now + RESTART_WATCHDOG_MS);
                Vec::new()
            }
            None => vec![NegotiationEffect::Fatal],
        }
    }

    /// A local candidate: sent now unless its offer has not gone out yet.
    pub fn on_local_candidate(&mut self, c: IceCandidate) -> Option<IceCandidate> {
        if self.sdp == Sdp::Creating {
            self.held_local.push(c);
            None
        } else {
            Some(c)
        }
    }

    /// Whether a local offer is set and waits for its answer.
    pub fn offer_outstanding(&self) -> bool {
        self.sdp == Sdp::HaveLocalOffer
    }

    /// Whether an incoming answer should be applied (only with an outstanding offer).
    pub fn accept_answer(&mut self) -> bool {
        if self.sdp == Sdp::HaveLocalOffer {
            self.sdp = Sdp::Applying;
            true
        } else {
            false
        }
    }

    pub fn on_answer_applied(&mut self) -> Vec<NegotiationEffect> {
        self.sdp = Sdp::Stable;
        self.initial = false;
        self.answer_applied = true;
        self.remote_buffer
            .drain(..)
            .map(NegotiationEffect::AddRemoteCandidate)
            .collect()
    }

    pub fn on_answer_failed(&mut self) -> Vec<NegotiationEffect> {
        if self.initial {
            return vec![NegotiationEffect::Fatal];
        }
        // A restart answer that does not apply: the watchdog tries again.
        self.sdp = Sdp::HaveLocalOffer;
        Vec::new()
    }

    /// A remote candidate: applied now if the answer is in, else buffered.
    pub fn on_remote_candidate(&mut self, c: IceCandidate) -> Option<IceCandidate> {
        if self.answer_applied && self.sdp != Sdp::Applying {
            Some(c)
        } else {
            self.remote_buffer.push(c);
            None
        }
    }

    pub fn on_ice_state(&mut self, state: IceState, now: Millis) -> Vec<NegotiationEffect> {
        self.ice = state;
        match state {
            IceState::Connected => {
                self.restart = None;
                self.disconnected_at = None;
                self.connect_deadline = None;
                Vec::new()
            }
            IceState::Disconnected => {
                self.disconnected_at.get_or_insert(now);
                Vec::new()
            }
            IceState::Failed => self.begin_restart(now),
            IceState::Other => Vec::new(),
        }
    }

    fn begin_restart(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        if self.restart.is_some() {
            return Vec::new();
        }
        self.disconnected_at = None;
        self.connect_deadline = None;
        self.restart = Some(Restart {
            attempts: 0,
            step: Step::Retry(now),
        });
        self.attempt(now)
    }

    fn attempt(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        let Some(r) = &mut self.restart else {
            return Vec::new();
        };
        if r.attempts >= MAX_ICE_RESTARTS {
            self.restart = None;
            return vec![NegotiationEffect::Fatal];
        }
        r.attempts += 1;
        r.step = Step::WaitSocket(now + SOCKET_WAIT_MS);
        if r.attempts == 1 {
            vec![NegotiationEffect::ForceNewSocket]
        } else {
            vec![NegotiationEffect::CheckSocket]
        }
    }

    /// The signalling socket is open: a restart waiting for it sends its offer.
    pub fn on_socket_open(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        match self.restart {
            Some(Restart {
                step: Step::WaitSocket(_),
                ..
            }) => self.restart_offer(now),
            _ => Vec::new(),
        }
    }

    fn restart_offer(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        let Some(r) = &mut self.restart else {
            return Vec::new();
        };
        r.step = Step::AwaitAnswer {
            deadline: now + RESTART_WATCHDOG_MS,
            extended: false,
        };
        // A late answer to the previous offer must not be applied to this one; its candidates
        // belong to the old credentials.
        self.sdp = Sdp::Creating;
        self.answer_applied = false;
        self.remote_buffer.clear();
        vec![NegotiationEffect::CreateOffer { ice_restart: true }]
    }

    pub fn abandon_restart(&mut self) {
        self.restart = None;
    }

    pub fn on_timeout(&mut self, now: Millis) -> Vec<NegotiationEffect> {
        if self.connect_deadline.is_some_and(|at| now >= at) {
            return self.begin_restart(now);
        }
        if let Some(at) = self.disconnected_at {
            if self.restart.is_none()
                && now >= at + DISCONNECTED_GRACE_MS
                && matches!(self.ice, IceState::Disconnected | IceState::Failed)
            {
                return self.begin_restart(now);
            }
        }
        let Some(r) = &mut self.restart else {
            return Vec::new();
        };
        match r.step {
            Step::WaitSocket(at) if now >= at => self.restart_offer(now),
            Step::AwaitAnswer { deadline, extended } if now >= deadline => {
                if !self.answer_applied && !extended {
                    // An answer may still be on its way: one more cycle (§8.5 step 8).
                    r.step = Step::AwaitAnswer {
                        deadline: now + RESTART_WATCHDOG_MS,
                        extended: true,
                    };
                    Vec::new()
                } else {
                    self.attempt(now)
                }
            }
            Step::Retry(at) if now >= at => self.attempt(now),
            _ => Vec::new(),
        }
    }

    pub fn next_timeout(&self) -> Option<Millis> {
        let grace = match (self.restart, self.disconnected_at) {
            (None, Some(at)) => Some(at + DISCONNECTED_GRACE_MS),
            _ => None,
        };
        let step = self.restart.map(|r| match r.step {
            Step::WaitSocket(at) | Step::Retry(at) => at,
            Step::AwaitAnswer { deadline, .. } => deadline,
        });
        [grace, self.connect_deadline, step]
            .into_iter()
            .flatten()
            .min()
    }
}
