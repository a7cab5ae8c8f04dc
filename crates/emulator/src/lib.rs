//! anam-emulator: a local stand-in for Anam's cloud (core API, engine signalling, WebRTC media).
pub mod media;
