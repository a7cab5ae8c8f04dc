//! Session tokens: HS256-signed JWTs minted by `/v1/auth/session-token` and verified by
//! `/v1/engine/session`.
use anam_core::base64::{decode_url_strict, encode_url};
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "persona_config_claim"
    )]
    pub persona_config: Option<PersonaConfig>,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// The `personaConfig` claim, written and read through the wire codec (the wire types have no
/// serde derives; the claims as a whole are the emulator's own, serde-encoded).
mod persona_config_claim {
    use anam_core::json::Value;
    use anam_core::wire::rest::PersonaConfig;
    use anam_core::wire::{decode_payload, ToJson};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        config: &Option<PersonaConfig>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        config
            .as_ref()
            .map(|c| Value::Object(c.to_json()))
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<PersonaConfig>, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(None),
            value => decode_payload("personaConfig", &value)
                .map(Some)
                .map_err(D::Error::custom),
        }
    }
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
            encode_url(HEADER_JSON.as_bytes()),
            encode_url(&payload)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!("{signing_input}.{}", encode_url(&sig))
    }

    /// Checks the signature, then the expiry against `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = decode_url_strict(sig).ok_or(TokenError::Malformed)?;
        let header_bytes = decode_url_strict(header).ok_or(TokenError::Malformed)?;
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
        let payload_bytes = decode_url_strict(payload).ok_or(TokenError::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&payload_bytes).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
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
        let forged_payload = encode_url(&serde_json::to_vec(&claims(9_999)).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(s.verify(&forged, 150), Err(TokenError::BadSignature));
        // alg none.
        let none = format!("{}.{}.", encode_url(br#"{"alg":"none"}"#), parts[1]);
        assert!(s.verify(&none, 150).is_err());
        for junk in ["", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30"] {
            assert!(s.verify(junk, 150).is_err(), "{junk}");
        }
    }
}
