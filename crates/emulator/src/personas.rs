//! The built-in personas, and how a session's persona is resolved from its token.
use anam_core::wire::rest::PersonaConfig;
use serde::Serialize;

/// A persona the emulator knows by id (the equivalent of one saved in Anam Lab).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinPersona {
    pub id: &'static str,
    pub name: &'static str,
    pub avatar_id: &'static str,
    pub voice_id: &'static str,
    pub description: &'static str,
}

pub const BUILTIN: [BuiltinPersona; 2] = [
    BuiltinPersona {
        id: "persona-aria",
        name: "Aria",
        avatar_id: "avatar-aria",
        voice_id: "voice-aria",
        description: "Warm-toned face on a teal backdrop; higher voice",
    },
    BuiltinPersona {
        id: "persona-milo",
        name: "Milo",
        avatar_id: "avatar-milo",
        voice_id: "voice-milo",
        description: "Cool-toned face on an amber backdrop; lower voice",
    },
];

pub fn builtin(id: &str) -> Option<&'static BuiltinPersona> {
    BUILTIN.iter().find(|p| p.id == id)
}

/// The persona a session runs: what it looks and sounds like and how long it may last.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPersona {
    /// The built-in id, or the config's `personaId`, or `ephemeral`.
    pub id: String,
    pub name: String,
    /// Which look/voice to use: a built-in persona id. Ephemeral configs map onto one (see
    /// [`look_for`]) so that every look is encoded once and shared.
    pub look: &'static str,
    pub max_session_length: Option<std::time::Duration>,
}

impl SessionPersona {
    pub fn from_builtin(p: &BuiltinPersona) -> Self {
        SessionPersona {
            id: p.id.to_owned(),
            name: p.name.to_owned(),
            look: p.id,
            max_session_length: None,
        }
    }

    pub fn from_config(cfg: &PersonaConfig) -> Self {
        let max = cfg
            .max_session_length_seconds
            .as_ref()
            .map(|n| n.as_f64())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| std::time::Duration::from_secs_f64(s.min(86_400.0)));
        let id = cfg
            .persona_id
            .clone()
            .unwrap_or_else(|| "ephemeral".to_owned());
        let name = cfg
            .name
            .clone()
            .or_else(|| builtin(&id).map(|p| p.name.to_owned()))
            .unwrap_or_else(|| "Persona".to_owned());
        SessionPersona {
            look: look_for(cfg),
            id,
            name,
            max_session_length: max,
        }
    }
}

/// Picks the built-in look for an ephemeral config: an avatar/voice/persona id or name that
/// names a built-in wins; anything else hashes onto one, so that the same avatar id always looks
/// the same and the encode-once-per-look cost stays bounded.
pub fn look_for(cfg: &PersonaConfig) -> &'static str {
    let keys = [
        cfg.avatar_id.as_deref(),
        cfg.persona_id.as_deref(),
        cfg.voice_id.as_deref(),
        cfg.name.as_deref(),
    ];
    for key in keys.into_iter().flatten() {
        let key_lower = key.to_ascii_lowercase();
        if let Some(p) = BUILTIN.iter().find(|p| {
            key == p.id
                || key == p.avatar_id
                || key == p.voice_id
                || key_lower == p.name.to_ascii_lowercase()
        }) {
            return p.id;
        }
    }
    let seed = cfg
        .avatar_id
        .as_deref()
        .or(cfg.name.as_deref())
        .unwrap_or("");
    // FNV-1a: stable across runs, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in seed.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    BUILTIN
        .get(h as usize % BUILTIN.len())
        .map(|p| p.id)
        .unwrap_or("persona-aria")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> PersonaConfig {
        anam_core::wire::decode_payload("personaConfig", &anam_core::json::parse(json).unwrap())
            .unwrap()
    }

    #[test]
    fn two_distinct_builtins() {
        assert_eq!(builtin("persona-aria").unwrap().name, "Aria");
        assert_eq!(builtin("persona-milo").unwrap().name, "Milo");
        assert!(builtin("persona-nope").is_none());
    }

    #[test]
    fn ephemeral_configs_map_onto_a_builtin_look() {
        assert_eq!(
            look_for(&cfg(r#"{"name":"x","avatarId":"avatar-milo"}"#)),
            "persona-milo"
        );
        assert_eq!(look_for(&cfg(r#"{"name":"Milo"}"#)), "persona-milo");
        let a = look_for(&cfg(r#"{"name":"Cara","avatarId":"av-123"}"#));
        assert_eq!(a, look_for(&cfg(r#"{"name":"Other","avatarId":"av-123"}"#)));
    }

    #[test]
    fn max_session_length_is_read_from_configs() {
        let p = SessionPersona::from_config(&cfg(
            r#"{"name":"Cara","avatarId":"a","voiceId":"v","maxSessionLengthSeconds":2}"#,
        ));
        assert_eq!(
            p.max_session_length,
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(p.name, "Cara");
        let p =
            SessionPersona::from_config(&cfg(r#"{"name":"Cara","maxSessionLengthSeconds":-1}"#));
        assert_eq!(p.max_session_length, None);
    }
}
