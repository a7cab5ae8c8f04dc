//! How a persona looks and sounds.

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Look and voice of one persona: the colours the face is drawn with and the espeak-ng voice
/// (or fallback tone) it speaks with.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaStyle {
    /// What the style was made for (a persona id or name); also seeds nothing else.
    pub key: String,
    pub skin: Rgb,
    pub hair: Rgb,
    pub iris: Rgb,
    pub lips: Rgb,
    pub shirt: Rgb,
    pub background_top: Rgb,
    pub background_bottom: Rgb,
    /// Hair reaching the shoulders (true) or short hair.
    pub long_hair: bool,
    /// espeak-ng voice name, with variant (`en-us+f3`).
    pub voice: String,
    /// espeak-ng pitch, 0..=99.
    pub pitch: u8,
    /// espeak-ng speed in words per minute.
    pub words_per_minute: u16,
    /// Base frequency of the fallback tone voice, in Hz.
    pub tone_hz: f32,
}

const SKINS: [Rgb; 5] = [
    Rgb(241, 204, 176),
    Rgb(224, 178, 140),
    Rgb(198, 140, 100),
    Rgb(160, 108, 74),
    Rgb(112, 74, 52),
];
const HAIRS: [Rgb; 6] = [
    Rgb(34, 28, 26),
    Rgb(86, 54, 34),
    Rgb(150, 96, 50),
    Rgb(214, 176, 110),
    Rgb(120, 40, 30),
    Rgb(160, 160, 168),
];
const IRISES: [Rgb; 4] = [
    Rgb(70, 110, 60),
    Rgb(60, 90, 140),
    Rgb(100, 66, 40),
    Rgb(110, 110, 120),
];
const SHIRTS: [Rgb; 6] = [
    Rgb(196, 72, 104),
    Rgb(52, 112, 168),
    Rgb(70, 140, 96),
    Rgb(220, 150, 50),
    Rgb(120, 80, 160),
    Rgb(60, 60, 70),
];
const BACKGROUNDS: [(Rgb, Rgb); 5] = [
    (Rgb(58, 110, 128), Rgb(18, 34, 56)),
    (Rgb(96, 84, 140), Rgb(26, 22, 48)),
    (Rgb(140, 100, 72), Rgb(44, 30, 28)),
    (Rgb(76, 120, 90), Rgb(20, 40, 32)),
    (Rgb(120, 126, 140), Rgb(36, 38, 48)),
];
const VOICES: [(&str, u8, f32); 4] = [
    ("en-us+f3", 62, 210.0),
    ("en-us+m3", 40, 125.0),
    ("en-gb+f2", 58, 200.0),
    ("en-gb+m1", 45, 135.0),
];

/// FNV-1a: a tiny hash whose value never changes between builds or runs, so an unknown persona
/// keeps the same face every time (the std hasher makes no such promise).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl PersonaStyle {
    /// The style of a persona, by id or name: the built-ins `persona-aria` ("Aria") and
    /// `persona-milo` ("Milo") have hand-picked looks and voices; any other id or name gets a
    /// deterministic style derived from a hash of it.
    pub fn for_persona(id_or_name: &str) -> PersonaStyle {
        let key = id_or_name.trim();
        match key.to_ascii_lowercase().as_str() {
            "persona-aria" | "aria" => PersonaStyle::aria(key),
            "persona-milo" | "milo" => PersonaStyle::milo(key),
            _ => PersonaStyle::derived(key),
        }
    }

    fn aria(key: &str) -> PersonaStyle {
        PersonaStyle {
            key: key.to_owned(),
            skin: Rgb(238, 198, 168),
            hair: Rgb(92, 52, 34),
            iris: Rgb(64, 118, 84),
            lips: Rgb(192, 92, 104),
            shirt: Rgb(196, 72, 104),
            background_top: Rgb(58, 118, 136),
            background_bottom: Rgb(16, 32, 54),
            long_hair: true,
            voice: "en-us+f3".to_owned(),
            pitch: 62,
            words_per_minute: 165,
            tone_hz: 210.0,
        }
    }

    fn milo(key: &str) -> PersonaStyle {
        PersonaStyle {
            key: key.to_owned(),
            skin: Rgb(172, 118, 82),
            hair: Rgb(30, 26, 24),
            iris: Rgb(70, 48, 30),
            lips: Rgb(150, 84, 72),
            shirt: Rgb(58, 112, 170),
            background_top: Rgb(104, 90, 140),
            background_bottom: Rgb(26, 22, 46),
            long_hair: false,
            voice: "en-gb+m3".to_owned(),
            pitch: 38,
            words_per_minute: 160,
            tone_hz: 125.0,
        }
    }

    fn derived(key: &str) -> PersonaStyle {
        let hash = stable_hash(key);
        // Each feature takes its own bits of the hash, so styles differ in several features.
        let pick = |shift: u32, len: usize| ((hash >> shift) as usize) % len;
        let skin = SKINS[pick(0, SKINS.len())];
        let (background_top, background_bottom) = BACKGROUNDS[pick(8, BACKGROUNDS.len())];
        let (voice, pitch, tone_hz) = VOICES[pick(16, VOICES.len())];
        PersonaStyle {
            key: key.to_owned(),
            skin,
            hair: HAIRS[pick(24, HAIRS.len())],
            iris: IRISES[pick(32, IRISES.len())],
            lips: Rgb(
                skin.0.saturating_sub(40),
                skin.1.saturating_sub(90),
                skin.2.saturating_sub(70),
            ),
            shirt: SHIRTS[pick(40, SHIRTS.len())],
            background_top,
            background_bottom,
            long_hair: (hash >> 48) & 1 == 1,
            voice: voice.to_owned(),
            pitch,
            words_per_minute: 165,
            tone_hz,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_found_by_id_or_name_and_differ() {
        let aria = PersonaStyle::for_persona("persona-aria");
        let milo = PersonaStyle::for_persona("persona-milo");
        assert_eq!(aria.skin, PersonaStyle::for_persona("Aria").skin);
        assert_eq!(milo.voice, PersonaStyle::for_persona("milo").voice);
        assert_ne!(aria.skin, milo.skin);
        assert_ne!(aria.voice, milo.voice);
        assert_ne!(aria.background_top, milo.background_top);
    }

    #[test]
    fn other_names_get_a_stable_style_that_depends_on_the_name() {
        let a = PersonaStyle::for_persona("Cara the custom persona");
        assert_eq!(a, PersonaStyle::for_persona("Cara the custom persona"));
        // Among a few names, the derived looks are not all the same.
        let looks: std::collections::HashSet<_> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|n| {
                let s = PersonaStyle::for_persona(n);
                (s.skin, s.hair, s.shirt, s.background_top)
            })
            .collect();
        assert!(looks.len() > 1);
    }
}
