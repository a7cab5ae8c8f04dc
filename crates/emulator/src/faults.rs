//! Injected failures for tests (`POST /_emulator/faults`): the next N calls to an endpoint answer
//! with a chosen status and JSON body instead of doing their work.
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// The endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum FaultEndpoint {
    #[serde(rename = "session-token")]
    SessionToken,
    #[serde(rename = "engine-session")]
    EngineSession,
    #[serde(rename = "talk")]
    Talk,
}

/// The body of `POST /_emulator/faults`.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultRequest {
    pub endpoint: FaultEndpoint,
    pub status: u16,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
}

/// One armed fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: u16,
    pub error: String,
    pub message: String,
    pub remaining: u32,
}

#[derive(Default)]
pub struct Faults {
    armed: Mutex<HashMap<FaultEndpoint, Fault>>,
}

impl Faults {
    /// Arms a fault, replacing any earlier one for the same endpoint. Only 4xx/5xx are allowed.
    pub fn arm(&self, req: FaultRequest) -> Result<Fault, String> {
        if !(400..=599).contains(&req.status) {
            return Err(format!("status must be 4xx or 5xx, got {}", req.status));
        }
        let count = req.count.unwrap_or(1);
        let fault = Fault {
            status: req.status,
            error: req
                .error
                .unwrap_or_else(|| default_error(req.status).to_owned()),
            message: req
                .message
                .unwrap_or_else(|| format!("injected fault (HTTP {})", req.status)),
            remaining: count,
        };
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        if count == 0 {
            armed.remove(&req.endpoint);
        } else {
            armed.insert(req.endpoint, fault.clone());
        }
        Ok(fault)
    }

    /// Takes one shot of the fault armed for `endpoint`, if any.
    pub fn take(&self, endpoint: FaultEndpoint) -> Option<Fault> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let fault = armed.get_mut(&endpoint)?;
        let shot = fault.clone();
        fault.remaining = fault.remaining.saturating_sub(1);
        if fault.remaining == 0 {
            armed.remove(&endpoint);
        }
        Some(shot)
    }

    pub fn clear(&self) {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn default_error(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        s if s >= 500 => "Internal Server Error",
        _ => "Client Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(status: u16, count: Option<u32>) -> FaultRequest {
        FaultRequest {
            endpoint: FaultEndpoint::Talk,
            status,
            error: None,
            message: None,
            count,
        }
    }

    #[test]
    fn a_fault_fires_count_times() {
        let f = Faults::default();
        f.arm(req(503, Some(2))).unwrap();
        assert_eq!(f.take(FaultEndpoint::Talk).unwrap().status, 503);
        assert!(f.take(FaultEndpoint::EngineSession).is_none());
        assert_eq!(
            f.take(FaultEndpoint::Talk).unwrap().error,
            "Service Unavailable"
        );
        assert!(f.take(FaultEndpoint::Talk).is_none());
    }

    #[test]
    fn only_error_statuses_are_accepted() {
        let f = Faults::default();
        assert!(f.arm(req(200, None)).is_err());
        assert!(f.arm(req(600, None)).is_err());
        assert_eq!(f.arm(req(404, None)).unwrap().remaining, 1);
    }
}
