//! Signed-in minting: a JWKS served by the test on loopback with keys made at test time, every
//! refusal case, key rotation, the bounded refetch under forged `kid`s, the HS256 secret mode,
//! the cookie, and per-user limits keyed by `sub`.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use common::{send, try_config, FakeUpstream};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const ISSUER: &str = "https://id.example.test/";
const AUDIENCE: &str = "anam-demo-app";
const SECRET: &str = "an-app-session-secret-of-at-least-32-bytes";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key made now, with its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl TestKey {
    fn rsa(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        Self::with(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
    }

    fn ec(kid: &str) -> Self {
        let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        Self::with(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(pkcs8.as_ref()),
        )
    }

    fn with(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 600})
}

/// The identity provider's JWKS endpoint, on loopback; counts its downloads.
#[derive(Clone, Default)]
struct Jwks {
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicU64>,
}

impl Jwks {
    async fn serve(&self) -> String {
        async fn jwks(State(j): State<Jwks>) -> axum::Json<JwkSet> {
            j.fetches.fetch_add(1, Ordering::SeqCst);
            axum::Json(JwkSet {
                keys: j.keys.lock().unwrap().clone(),
            })
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/.well-known/jwks.json")
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn jwks_app(url: &str, min_refetch: Duration, extra: &[(&str, &str)]) -> (Router, FakeUpstream) {
    let mut vars = vec![
        ("ANAM_API_KEY", "k"),
        ("ANAM_PERSONA_ID", "persona-aria"),
        ("AUTH_JWKS_URL", url),
        ("AUTH_ISSUER", ISSUER),
        ("AUTH_AUDIENCE", AUDIENCE),
        ("RATE_LIMIT_PER_MINUTE", "100000"),
    ];
    vars.extend_from_slice(extra);
    let mut cfg = try_config(&vars, &[]).unwrap();
    cfg.auth.as_mut().unwrap().jwks_min_refetch = min_refetch;
    let fake = FakeUpstream::default();
    (anam_backend::app(&cfg, fake.clone(), &[]).unwrap(), fake)
}

fn mint_with(bearer: Option<&str>, from: &str) -> Request<Body> {
    let mut b = Request::post("/api/session-token").header("host", "127.0.0.1:8080");
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let mut r = b.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{from}:40000").parse().unwrap();
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

async fn status_of(app: &Router, bearer: Option<&str>) -> (StatusCode, String) {
    let a = send(app, mint_with(bearer, "192.0.2.1")).await;
    let code = if a.status == StatusCode::OK {
        String::new()
    } else {
        a.error_code()
    };
    if a.status == StatusCode::UNAUTHORIZED {
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    }
    (a.status, code)
}

fn unsigned(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

#[tokio::test]
async fn jwks_tokens_valid_ones_mint_and_every_forgery_is_refused() {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::ec("ec-1");
    let jwks = Jwks::default();
    jwks.publish(&[&rsa, &ec]);
    let url = jwks.serve().await;
    let (app, fake) = jwks_app(&url, Duration::from_secs(3600), &[]);

    // RS256 and ES256 from the provider: minted.
    for key in [&rsa, &ec] {
        let (status, _) = status_of(&app, Some(&key.sign(&claims("user-1")))).await;
        assert_eq!(status, StatusCode::OK, "{:?}", key.alg);
    }
    assert_eq!(fake.calls().len(), 2);
    assert_eq!(jwks.fetches(), 1, "the set is fetched once and cached");

    let mut refused: Vec<(&str, String)> = Vec::new();
    refused.push(("no token", String::new()));
    refused.push(("not a JWT", "garbage".to_owned()));
    let mut c = claims("u");
    c["exp"] = json!(now() - 3600);
    refused.push(("expired", rsa.sign(&c)));
    let mut c = claims("u");
    c["nbf"] = json!(now() + 3600);
    refused.push(("not yet valid", rsa.sign(&c)));
    let mut c = claims("u");
    c["iss"] = json!("https://evil.example.test/");
    refused.push(("wrong issuer", rsa.sign(&c)));
    let mut c = claims("u");
    c["aud"] = json!("another-app");
    refused.push(("wrong audience", ec.sign(&c)));
    let mut c = claims("u");
    c.as_object_mut().unwrap().remove("aud");
    refused.push(("no audience", rsa.sign(&c)));
    let mut c = claims("u");
    c.as_object_mut().unwrap().remove("exp");
    refused.push(("no expiry", rsa.sign(&c)));
    let mut c = claims("u");
    c.as_object_mut().unwrap().remove("sub");
    refused.push(("no sub", rsa.sign(&c)));
    // alg none, with and without a signature part.
    let none = json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"});
    refused.push(("alg none", unsigned(&none, &claims("u"), b"")));
    refused.push(("alg none signed", unsigned(&none, &claims("u"), b"x")));
    // HS/RS confusion: HS256 "signed" with the RSA key's public JWK material as the secret.
    let n = match &rsa.jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => p.n.clone(),
        _ => unreachable!(),
    };
    for secret in [n.as_bytes().to_vec(), serde_json::to_vec(&rsa.jwk).unwrap()] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa-1".to_owned());
        let t = jsonwebtoken::encode(&h, &claims("u"), &EncodingKey::from_secret(&secret)).unwrap();
        refused.push(("HS256 with the RSA public key", t));
    }
    // A key the provider never published, under a published kid.
    let stranger = TestKey::rsa("rsa-1");
    refused.push(("signed by another key", stranger.sign(&claims("u"))));
    // ES256 header on the RSA key, tampered payload.
    let good = rsa.sign(&claims("user-1"));
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("admin").to_string().as_bytes()),
        parts[2]
    );
    refused.push(("tampered payload", tampered));
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("rsa-1".to_owned());
    refused.push((
        "ES256 claimed for an RSA kid",
        jsonwebtoken::encode(&h, &claims("u"), &ec.encoding).unwrap(),
    ));
    let mut h = Header::new(Algorithm::RS256);
    h.kid = None;
    refused.push((
        "no kid",
        jsonwebtoken::encode(&h, &claims("u"), &rsa.encoding).unwrap(),
    ));

    for (label, token) in &refused {
        let bearer = (!token.is_empty()).then_some(token.as_str());
        let (status, code) = status_of(&app, bearer).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(code, "unauthenticated", "{label}");
    }
    assert_eq!(fake.calls().len(), 2, "no refused request reached upstream");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_forged_kids_cause_a_bounded_number_of_fetches() {
    let old = TestKey::ec("2026-old");
    let jwks = Jwks::default();
    jwks.publish(&[&old]);
    let url = jwks.serve().await;
    let min_refetch = Duration::from_millis(300);
    let (app, _) = jwks_app(&url, min_refetch, &[]);

    assert_eq!(
        status_of(&app, Some(&old.sign(&claims("u")))).await.0,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 1);

    // The provider rotates: a new kid arrives; once the refetch interval has passed since the
    // last download, the first request with it triggers one download and is accepted.
    let new = TestKey::rsa("2026-new");
    jwks.publish(&[&old, &new]);
    tokio::time::sleep(min_refetch).await;
    assert_eq!(
        status_of(&app, Some(&new.sign(&claims("u")))).await.0,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(
        status_of(&app, Some(&new.sign(&claims("u")))).await.0,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 2, "a known kid needs no download");

    // 1,000 requests with random kids, as fast as they come, 50 at a time.
    let started = tokio::time::Instant::now();
    let before = jwks.fetches();
    let mut handles = Vec::new();
    for batch in 0..20 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let forged = TestKey::with(
                &format!("forged-{batch}-{i}-{}", now()),
                Algorithm::ES256,
                old.encoding.clone(),
            );
            let app = app.clone();
            let token = forged.sign(&claims("attacker"));
            set.spawn(async move { status_of(&app, Some(&token)).await });
        }
        handles.extend(set.join_all().await);
    }
    let elapsed = started.elapsed();
    assert_eq!(handles.len(), 1000);
    assert!(handles.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED));
    let fetched = jwks.fetches() - before;
    let bound = elapsed.as_millis() as u64 / min_refetch.as_millis() as u64 + 1;
    assert!(
        fetched <= bound,
        "{fetched} JWKS downloads in {elapsed:?} (at most {bound} allowed)"
    );
    // And the real users were never locked out.
    assert_eq!(
        status_of(&app, Some(&new.sign(&claims("u")))).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hs256_secret_mode_and_the_cookie() {
    let cfg = try_config(
        &[
            ("ANAM_API_KEY", "k"),
            ("ANAM_PERSONA_ID", "persona-aria"),
            ("AUTH_JWT_SECRET", SECRET),
            ("AUTH_COOKIE", "app_session"),
        ],
        &[],
    )
    .unwrap();
    let fake = FakeUpstream::default();
    let app = anam_backend::app(&cfg, fake.clone(), &[]).unwrap();
    let hs = |secret: &str, claims: &Value| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let c = json!({"sub": "user-7", "exp": now() + 600});
    let good = hs(SECRET, &c);
    assert_eq!(status_of(&app, Some(&good)).await.0, StatusCode::OK);

    // The same token from the cookie (no Authorization header).
    let cookie = |value: &str| {
        Request::post("/api/session-token")
            .header("host", "127.0.0.1:8080")
            .header(
                "cookie",
                format!("theme=dark; app_session={value}; other=1"),
            )
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, cookie(&good)).await.status, StatusCode::OK);
    assert_eq!(
        send(&app, cookie("nope")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut expired = c.clone();
    expired["exp"] = json!(now() - 3600);
    let other = TestKey::ec("x");
    let mut rs_header = Header::new(Algorithm::ES256);
    rs_header.kid = Some("x".into());
    for (label, token) in [
        (
            "wrong secret",
            hs("another-secret-that-is-also-32-bytes-long", &c),
        ),
        ("expired", hs(SECRET, &expired)),
        (
            "asymmetric alg",
            jsonwebtoken::encode(&rs_header, &c, &other.encoding).unwrap(),
        ),
        ("alg none", unsigned(&json!({"alg": "none"}), &c, b"")),
    ] {
        let (status, code) = status_of(&app, Some(&token)).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{label}"
        );
    }
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn per_user_budget_follows_the_sub_not_the_address() {
    let key = TestKey::ec("k1");
    let jwks = Jwks::default();
    jwks.publish(&[&key]);
    let url = jwks.serve().await;
    let (app, fake) = jwks_app(
        &url,
        Duration::from_secs(3600),
        &[("TOKENS_PER_USER_PER_HOUR", "3")],
    );
    let alice = key.sign(&claims("alice"));
    let bob = key.sign(&claims("bob"));
    // Alice from two addresses shares one budget of 3.
    let mut statuses = Vec::new();
    for from in ["192.0.2.1", "198.51.100.2", "192.0.2.1", "198.51.100.2"] {
        statuses.push(send(&app, mint_with(Some(&alice), from)).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(codes, [200, 200, 200, 429]);
    assert_eq!(statuses[3].error_code(), "token_budget_exhausted");
    let wait: u64 = statuses[3].header("retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&wait), "{wait}");
    // Bob from Alice's address has his own.
    assert_eq!(
        send(&app, mint_with(Some(&bob), "192.0.2.1")).await.status,
        StatusCode::OK
    );
    assert_eq!(fake.calls().len(), 4);
}

#[test]
fn auth_configuration_mistakes_refuse_to_start() {
    let base = [("ANAM_API_KEY", "k"), ("ANAM_PERSONA_ID", "p")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        try_config(&v, &[])
    };
    // Zero config: open minting, as the demo needs.
    assert!(with(&[]).unwrap().auth.is_none());
    for bad in [
        vec![("AUTH_JWKS_URL", "https://id.example/jwks.json")],
        vec![
            ("AUTH_JWKS_URL", "https://id.example/jwks.json"),
            ("AUTH_ISSUER", "x"),
        ],
        vec![
            ("AUTH_JWKS_URL", "not a url"),
            ("AUTH_ISSUER", "x"),
            ("AUTH_AUDIENCE", "y"),
        ],
        vec![("AUTH_JWT_SECRET", "short")],
        vec![
            ("AUTH_JWT_SECRET", SECRET),
            ("AUTH_JWKS_URL", "https://id.example/j"),
        ],
        vec![("AUTH_ISSUER", "x")],
        vec![("AUTH_JWT_SECRET", SECRET), ("AUTH_COOKIE", "a b")],
        vec![("TRUSTED_PROXIES", "10.0.0.0/33")],
        vec![("TOKENS_PER_USER_PER_HOUR", "0")],
        vec![("MAX_ACTIVE_TOKENS_PER_USER", "many")],
        vec![("REDIS_URL", "http://127.0.0.1:6379")],
        vec![("LIMITS_FAIL_OPEN", "perhaps")],
    ] {
        let err = with(&bad).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(!err.contains(SECRET), "{err}");
    }
    let ok = with(&[
        ("AUTH_JWT_SECRET", SECRET),
        ("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
        ("REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0"),
    ])
    .unwrap();
    assert_eq!(ok.trusted_proxies.len(), 2);
    let debug = format!("{ok:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("hunter2"),
        "{debug}"
    );
}

#[tokio::test]
async fn anonymous_clients_behind_a_trusted_proxy_each_have_their_own_budget() {
    let cfg = try_config(
        &[
            ("ANAM_API_KEY", "k"),
            ("ANAM_PERSONA_ID", "persona-aria"),
            ("TOKENS_PER_USER_PER_HOUR", "2"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
        &[],
    )
    .unwrap();
    let app = anam_backend::app(&cfg, FakeUpstream::default(), &[]).unwrap();
    let via = |peer: &str, xff: &str| {
        let mut r = mint_with(None, peer);
        r.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        r
    };
    // Two users behind our proxy 10.0.0.5: two budgets.
    for _ in 0..2 {
        assert_eq!(
            send(&app, via("10.0.0.5", "203.0.113.1")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, via("10.0.0.5", "203.0.113.2")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, via("10.0.0.5", "203.0.113.1")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&app, via("10.0.0.5", "203.0.113.2")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A client that is not a trusted proxy cannot escape its budget by inventing addresses.
    for (i, expected) in [200u16, 200, 429, 429].into_iter().enumerate() {
        let a = send(&app, via("198.51.100.7", &format!("192.0.2.{i}"))).await;
        assert_eq!(a.status.as_u16(), expected, "request {i}");
    }
}
