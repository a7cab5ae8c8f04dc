//! `AgentAudioInputStream` (audio passthrough, §10.5): PCM chunks the app sends for the persona
//! to speak, over signalling.

use std::rc::Rc;

use anam_core::session::conversation::AgentAudioConfig;
use js_sys::{ArrayBuffer, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::driver::Driver;
use crate::errors::plain_error;
use crate::io::now;
use crate::js::{get, set};

/// Reads `{encoding?, sampleRate, channels}`; the core checks the values.
pub fn parse_config(config: &JsValue) -> Result<AgentAudioConfig, JsValue> {
    AgentAudioConfig::from_raw(
        get(config, "encoding").as_string(),
        get(config, "sampleRate").as_f64(),
        get(config, "channels").as_f64(),
    )
    .map_err(|e| plain_error(&e))
}

#[wasm_bindgen(skip_typescript)]
pub struct AgentAudioInputStream {
    pub(crate) driver: Rc<Driver>,
    pub(crate) handle: u32,
    pub(crate) config: AgentAudioConfig,
}

#[wasm_bindgen]
impl AgentAudioInputStream {
    /// Sends one chunk: an `ArrayBuffer`, a typed array / `DataView` (its bytes), or a base64
    /// string (passed through).
    #[wasm_bindgen(js_name = sendAudioChunk)]
    pub fn send_audio_chunk(&self, chunk: JsValue) -> Result<(), JsValue> {
        let data = if let Some(text) = chunk.as_string() {
            text
        } else if let Some(buffer) = chunk.dyn_ref::<ArrayBuffer>() {
            anam_core::base64::encode_standard(&Uint8Array::new(buffer).to_vec())
        } else if ArrayBuffer::is_view(&chunk) {
            let view = |key: &str| get(&chunk, key).as_f64().unwrap_or(0.0) as u32;
            let buffer: ArrayBuffer = get(&chunk, "buffer").unchecked_into();
            let bytes = Uint8Array::new_with_byte_offset_and_length(
                &buffer,
                view("byteOffset"),
                view("byteLength"),
            );
            anam_core::base64::encode_standard(&bytes.to_vec())
        } else {
            return Err(plain_error(
                "sendAudioChunk takes an ArrayBuffer, a typed array or a base64 string",
            ));
        };
        self.driver
            .command(|s| s.send_agent_audio(now(), self.handle, data));
        Ok(())
    }

    /// Ends the current sequence; the next chunk is number 0 again.
    #[wasm_bindgen(js_name = endSequence)]
    pub fn end_sequence(&self) {
        self.driver
            .command(|s| s.end_agent_audio_sequence(self.handle));
    }

    #[wasm_bindgen(js_name = getSequenceNumber)]
    pub fn get_sequence_number(&self) -> f64 {
        self.driver.core().agent_audio_sequence(self.handle) as f64
    }

    #[wasm_bindgen(js_name = getConfig)]
    pub fn get_config(&self) -> JsValue {
        let out = Object::new();
        set(&out, "encoding", &JsValue::from_str(&self.config.encoding));
        set(&out, "sampleRate", &JsValue::from(self.config.sample_rate));
        set(&out, "channels", &JsValue::from(self.config.channels));
        out.into()
    }
}
