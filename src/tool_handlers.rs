//! `registerToolCallHandler`: the app's tool handlers and how each stage runs (§9.4).
//!
//! The core decides which stage runs when; this module finds the handler, calls it with the
//! event payload and turns an `onStart` outcome into the core's input.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Weak;

use anam_core::session::tools::HandlerOutcome;
use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::js::{describe_js_error, get};

/// Handlers by tool name (one per name, the last registration wins).
#[derive(Default)]
pub struct ToolHandlers {
    /// `(tool name, registration id, handler object)`; a list, as apps register a few tools.
    by_name: RefCell<Vec<(String, u32, JsValue)>>,
    next_id: Cell<u32>,
    /// The one function behind every unregister function handed out, made on first use: each
    /// registration gets it bound to its id, so registering does not add a closure that would
    /// have to live as long as the client.
    unregister: OnceCell<Closure<dyn Fn(u32)>>,
}

impl ToolHandlers {
    /// Registers `handler` for `name`; returns its unregister function, which removes this
    /// registration only (not a later one for the same name). `owner` is the client's handlers,
    /// held weakly so that an unregister function does not keep the client alive.
    pub fn register(&self, owner: Weak<ToolHandlers>, name: String, handler: JsValue) -> Function {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        {
            let mut list = self.by_name.borrow_mut();
            list.retain(|(n, _, _)| *n != name);
            list.push((name, id, handler));
        }
        let unregister = self.unregister.get_or_init(|| {
            Closure::new(move |id| {
                if let Some(handlers) = owner.upgrade() {
                    handlers.by_name.borrow_mut().retain(|(_, i, _)| *i != id);
                }
            })
        });
        unregister
            .as_ref()
            .unchecked_ref::<Function>()
            .bind1(&JsValue::NULL, &JsValue::from(id))
            .unchecked_into()
    }

    /// How many closures the handlers keep alive: at most one, however often apps register.
    pub fn closures(&self) -> usize {
        usize::from(self.unregister.get().is_some())
    }

    /// How many registrations are in force.
    pub fn len(&self) -> usize {
        self.by_name.borrow().len()
    }

    /// Whether no handler is registered.
    pub fn is_empty(&self) -> bool {
        self.by_name.borrow().is_empty()
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
pub fn handler_outcome(result: Result<JsValue, JsValue>) -> HandlerOutcome {
    match result {
        Ok(v) if v.is_undefined() || v.is_null() => HandlerOutcome::Returned(None),
        Ok(v) => HandlerOutcome::Returned(Some(v.as_string().unwrap_or_else(|| {
            // A non-string result is sent as its JSON text.
            js_sys::JSON::stringify(&v)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        }))),
        Err(e) => HandlerOutcome::Threw(
            get(&e, "message")
                .as_string()
                .unwrap_or_else(|| describe_js_error(&e)),
        ),
    }
}
