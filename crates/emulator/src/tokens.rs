//! Session tokens: HS256-signed JWTs minted by `/v1/auth/session-token` and verified by
//! `/v1/engine/session`.
use anam_core::wire::rest::PersonaConfig;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The token `type` claim (§2.5): `stateful` for a saved persona, `ephemeral` for a full config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Stateful,
    Ephemeral,
}

/// The claims the emulator signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    #[serde(rename = "type")]
    pub kind: TokenKind,
    pub account_id: String,
    /// The built-in persona of a stateful token, or the id named in an ephemeral config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_id: Option<String>,
    /// The full runtime config of an ephemeral token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_config: Option<PersonaConfig>,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// Why a presented token was refused; the message tells the caller which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

impl TokenError {
    pub fn message(&self) -> &'static str {
        match self {
            TokenError::Malformed => "session token is malformed (expected a signed JWT)",
            TokenError::BadSignature => "session token signature is invalid",
            TokenError::Expired => "session token has expired",
        }
    }
}

/// Signs and verifies tokens with one process-wide secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

/// The fixed JOSE header: `{"alg":"HS256","typ":"JWT"}`.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl TokenSigner {
    pub fn new(secret: Vec<u8>) -> Self {
        TokenSigner { secret }
    }

    /// A signer with a fresh random secret: tokens die with the process, as they should.
    pub fn random() -> Self {
        let mut secret = Vec::with_capacity(32);
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        TokenSigner { secret }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail; the fallback keeps it panic-free.
        HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| HmacSha256::new_from_slice(b"fallback").expect("static key"))
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            base64url_encode(HEADER_JSON.as_bytes()),
            base64url_encode(&payload)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!("{signing_input}.{}", base64url_encode(&sig))
    }

    /// Checks the signature, then the expiry against `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = base64url_decode(sig).ok_or(TokenError::Malformed)?;
        let header_bytes = base64url_decode(header).ok_or(TokenError::Malformed)?;
        let header: serde_json::Value =
            serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
        // Only HS256 is ever issued; refusing anything else blocks `alg: none` style forgeries.
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::BadSignature);
        }
        // The signature covers the first two segments exactly as they were sent.
        let signing_input = token.rsplit_once('.').map(|(input, _)| input).unwrap_or("");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let payload_bytes = base64url_decode(payload).ok_or(TokenError::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&payload_bytes).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 7515 §2).
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
            out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// Strict base64url decoding (no padding, no foreign characters): a token we issued never has
/// either, so anything else is a forgery or corruption.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            kind: TokenKind::Stateful,
            account_id: "acc".to_owned(),
            persona_id: Some("persona-aria".to_owned()),
            persona_config: None,
            iat: 100,
            exp,
            jti: "j1".to_owned(),
        }
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(200))
                .collect();
            let enc = base64url_encode(&data);
            assert!(!enc.contains('=') && !enc.contains('+') && !enc.contains('/'));
            assert_eq!(base64url_decode(&enc).unwrap(), data);
        }
        assert_eq!(base64url_encode(b"hello"), "aGVsbG8");
        assert!(base64url_decode("a").is_none());
        assert!(base64url_decode("ab+c").is_none());
    }

    #[test]
    fn minted_tokens_verify_until_they_expire() {
        let s = TokenSigner::new(b"secret".to_vec());
        let t = s.mint(&claims(200));
        assert_eq!(t.split('.').count(), 3);
        assert_eq!(s.verify(&t, 150).unwrap(), claims(200));
        assert_eq!(s.verify(&t, 200), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let s = TokenSigner::new(b"secret".to_vec());
        let other = TokenSigner::new(b"other".to_vec());
        let t = other.mint(&claims(200));
        assert_eq!(s.verify(&t, 150), Err(TokenError::BadSignature));
        // Same signature, edited payload.
        let good = s.mint(&claims(200));
        let parts: Vec<&str> = good.split('.').collect();
        let forged_payload = base64url_encode(&serde_json::to_vec(&claims(9_999)).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(s.verify(&forged, 150), Err(TokenError::BadSignature));
        // alg none.
        let none = format!("{}.{}.", base64url_encode(br#"{"alg":"none"}"#), parts[1]);
        assert!(s.verify(&none, 150).is_err());
        for junk in ["", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30"] {
            assert!(s.verify(junk, 150).is_err(), "{junk}");
        }
    }
}
