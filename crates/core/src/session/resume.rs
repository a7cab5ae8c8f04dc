//! Automatic resume (an extension beyond the official client): when a session is lost for good,
//! the machine starts a fresh one with a fresh token instead of ending, up to a bounded number
//! of tries. This module holds the pure parts: which losses qualify, the bookkeeping of one
//! resume and the delay before each try.

use super::Millis;
use crate::errors::ConnectionClosedCode;

/// Tries when `autoResume: true` gives no number.
pub const DEFAULT_RESUME_ATTEMPTS: u32 = 3;
/// Upper bound of `autoResume.maxAttempts`, so a misconfigured app cannot loop for hours.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;
/// Delay before the second try; it doubles for each later one up to [`MAX_BACKOFF_MS`]. The
/// first try starts at once: the old session is already gone, waiting helps nobody.
pub const INITIAL_BACKOFF_MS: Millis = 1_000;
/// Longest delay between two tries.
pub const MAX_BACKOFF_MS: Millis = 8_000;

/// Whether a session that ended with `code` is worth resuming: the losses that WebSocket
/// reconnection and ICE restarts could not save, and server-side ends (e.g. the time limit).
/// A normal stop or a microphone denial is the user's decision and never resumed.
pub fn is_resumable(code: ConnectionClosedCode) -> bool {
    matches!(
        code,
        ConnectionClosedCode::WebrtcFailure
            | ConnectionClosedCode::SignallingClientConnectionFailure
            | ConnectionClosedCode::ServerClosedConnection
    )
}

/// One resume in progress: which try runs, and why the original session ended (reported by
/// `CONNECTION_CLOSED` if every try fails).
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// 1-based number of the try under way (0 before the first).
    pub attempt: u32,
    /// Close code of the lost session, reported if every try fails.
    pub code: ConnectionClosedCode,
    /// Details of that close, reported with it.
    pub details: Option<String>,
}

impl Resume {
    /// A resume of a session lost with `code`, before its first try.
    pub fn new(code: ConnectionClosedCode, details: Option<String>) -> Resume {
        Resume {
            attempt: 0,
            code,
            details,
        }
    }
}

/// Milliseconds to wait before try `attempt` (1-based): 0, then 1 s, 2 s, 4 s, 8 s, 8 s...
pub fn delay_before(attempt: u32) -> Millis {
    if attempt <= 1 {
        return 0;
    }
    let doublings = (attempt - 2).min(16);
    INITIAL_BACKOFF_MS
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unsaved_losses_and_server_ends_resume() {
        assert!(is_resumable(ConnectionClosedCode::WebrtcFailure));
        assert!(is_resumable(
            ConnectionClosedCode::SignallingClientConnectionFailure
        ));
        assert!(is_resumable(ConnectionClosedCode::ServerClosedConnection));
        assert!(!is_resumable(ConnectionClosedCode::Normal));
        assert!(!is_resumable(
            ConnectionClosedCode::MicrophonePermissionDenied
        ));
    }

    #[test]
    fn backoff_starts_immediately_doubles_and_is_bounded() {
        let delays: Vec<Millis> = (1..=7).map(delay_before).collect();
        assert_eq!(delays, [0, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        assert_eq!(delay_before(u32::MAX), MAX_BACKOFF_MS);
    }
}
