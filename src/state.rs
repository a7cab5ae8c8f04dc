//! The JS side of the state store (`getState()` / `subscribe()`, an extension beyond the
//! official API). anam-core's [`StateTracker`] decides what the state is; this module turns it
//! into frozen snapshot objects and calls the subscribers.
//!
//! React's `useSyncExternalStore` compares snapshots by identity, so one frozen object is handed
//! out until the state changes. Subscribers are called once per batch of session outputs (one
//! browser event or API call), after the whole batch ran, so they never see half an update.

use anam_core::session::state::{ClientState, StateTracker};
use anam_core::session::{Output, Session};
use js_sys::{Array, Function, Object, Set};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::{get, to_js};

pub struct StateStore {
    tracker: StateTracker,
    /// The current snapshot, built on first read after a change.
    snapshot: Option<JsValue>,
    /// A change happened that the subscribers were not told about yet.
    unnotified: bool,
    subscribers: Set,
}

impl StateStore {
    pub fn new(session: &Session) -> StateStore {
        StateStore {
            tracker: StateTracker::new(session),
            snapshot: None,
            unnotified: false,
            subscribers: Set::new(&JsValue::UNDEFINED),
        }
    }

    fn changed(&mut self, changed: bool) {
        if changed {
            self.snapshot = None;
            self.unnotified = true;
        }
    }

    pub fn on_start(&mut self) {
        let changed = self.tracker.on_start();
        self.changed(changed);
    }

    pub fn on_output(&mut self, output: &Output) {
        let changed = self.tracker.on_output(output);
        self.changed(changed);
    }

    pub fn sync(&mut self, session: &Session) {
        let changed = self.tracker.sync(session);
        self.changed(changed);
    }

    /// The current snapshot: the same object until the state changes.
    pub fn snapshot(&mut self) -> JsValue {
        self.snapshot
            .get_or_insert_with(|| snapshot_js(self.tracker.state()))
            .clone()
    }

    /// The subscribers to call now, if anything changed since they were last called.
    pub fn take_notification(&mut self) -> Option<Array> {
        if !std::mem::take(&mut self.unnotified) || self.subscribers.size() == 0 {
            return None;
        }
        // A copy: a subscriber may unsubscribe (itself or another) while they are being called.
        Some(Array::from(&self.subscribers))
    }

    /// Adds `listener` (a function added twice is called once) and returns the function that
    /// removes it: `Set.prototype.delete` bound to it, so that no closure has to be kept alive.
    pub fn subscribe(&mut self, listener: JsValue) -> Result<Function, JsValue> {
        if !listener.is_function() {
            return Err(js_sys::TypeError::new("subscribe() needs a listener function").into());
        }
        self.subscribers.add(&listener);
        let delete: Function = get(&self.subscribers, "delete").dyn_into()?;
        Ok(delete.bind1(&self.subscribers, &listener).unchecked_into())
    }
}

/// `{phase, sessionId, muted, permissionState, lastError}`, frozen (and `lastError` too).
fn snapshot_js(state: &ClientState) -> JsValue {
    let obj = to_js(state);
    let last_error = get(&obj, "lastError");
    if last_error.is_object() {
        Object::freeze(last_error.unchecked_ref::<Object>());
    }
    Object::freeze(obj.unchecked_ref::<Object>()).into()
}
