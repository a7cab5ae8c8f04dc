//! `registerToolCallHandler`: the app's tool handlers and how each stage runs (§9.4).
//!
//! The core decides which stage runs when; this module finds the handler, calls it with the
//! event payload and turns an `onStart` outcome into the core's input.

use std::cell::{Cell, RefCell};
use std::rc::Weak;

use anam_core::session::tools::StartOutcome;
use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::io::http::{describe_js_error, get};

/// Handlers by tool name (one per name, the last registration wins).
#[derive(Default)]
pub struct ToolHandlers {
    /// `(tool name, registration id, handler object)`; a list, as apps register a few tools.
    by_name: RefCell<Vec<(String, u64, JsValue)>>,
    next_id: Cell<u64>,
    /// The unregister functions handed out; they must outlive every JS reference to them, so
    /// they live as long as the client (one small closure per registration).
    unregisters: RefCell<Vec<Closure<dyn Fn()>>>,
}

impl ToolHandlers {
    /// Registers `handler` for `name`; returns its unregister function, which removes this
    /// registration only (not a later one for the same name). `owner` is the client's handlers,
    /// held weakly so that an unregister function does not keep the client alive.
    pub fn register(&self, owner: Weak<ToolHandlers>, name: String, handler: JsValue) -> Function {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        {
            let mut list = self.by_name.borrow_mut();
            list.retain(|(n, _, _)| *n != name);
            list.push((name, id, handler));
        }
        let unregister = Closure::<dyn Fn()>::new(move || {
            if let Some(handlers) = owner.upgrade() {
                handlers.by_name.borrow_mut().retain(|(_, i, _)| *i != id);
            }
        });
        let function = unregister.as_ref().unchecked_ref::<Function>().clone();
        self.unregisters.borrow_mut().push(unregister);
        function
    }

    /// Calls the `key` handler (`onStart`, `onComplete`, `onFail`) of tool `name` with
    /// `payload`; `None` when there is no such handler. The result is settled as a promise so
    /// that sync and async handlers (and sync throws) behave alike.
    pub fn call(&self, name: &str, key: &str, payload: &JsValue) -> Option<JsFuture> {
        let handler = self
            .by_name
            .borrow()
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, h)| h.clone())?;
        let f = get(&handler, key).dyn_into::<Function>().ok()?;
        let settled = match f.call1(&handler, payload) {
            Ok(v) => Promise::resolve(&v),
            Err(e) => Promise::reject(&e),
        };
        Some(JsFuture::from(settled))
    }
}

/// What an `onStart` handler's settled promise means for the call.
pub fn start_outcome(result: Result<JsValue, JsValue>) -> StartOutcome {
    match result {
        Ok(v) if v.is_undefined() || v.is_null() => StartOutcome::Returned(None),
        Ok(v) => StartOutcome::Returned(Some(v.as_string().unwrap_or_else(|| {
            // A non-string result is sent as its JSON text.
            js_sys::JSON::stringify(&v)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        }))),
        Err(e) => StartOutcome::Threw(
            get(&e, "message")
                .as_string()
                .unwrap_or_else(|| describe_js_error(&e)),
        ),
    }
}
