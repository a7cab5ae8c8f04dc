//! Playback under the browsers' autoplay policies (an extension beyond the official API).
//!
//! Browsers refuse to start media with sound until the user interacted with the page, but
//! always allow muted playback. So the client asks for playback with sound; when that is
//! refused it falls back to muted playback, so that the persona at least shows, and tells the
//! app (`AUTOPLAY_BLOCKED`), which offers a button that calls `unlock()`.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

use crate::js::get;

/// How a playback request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOutcome {
    /// Playing as the element was configured (with sound unless the app muted it).
    Playing,
    /// Sound was refused; the element was muted and plays.
    PlayingMuted,
    /// Refused even muted (e.g. a data-saver or an enterprise policy).
    Blocked,
    /// Interrupted for another reason (a new source, the element was removed): not ours to
    /// report.
    Interrupted,
}

/// Whether a rejected `play()` is the autoplay policy speaking.
pub fn is_policy_refusal(error: &JsValue) -> bool {
    get(error, "name").as_string().as_deref() == Some("NotAllowedError")
}

/// `video.play()` as a future (a missing promise, as in very old engines, counts as success).
async fn play(video: &HtmlVideoElement) -> Result<(), JsValue> {
    match video.play() {
        Ok(promise) => JsFuture::from(promise).await.map(drop),
        Err(e) => Err(e),
    }
}

/// Starts playback of the stream just set on `video`, muting it if sound is refused.
pub async fn start_playback(video: &HtmlVideoElement) -> PlayOutcome {
    match play(video).await {
        Ok(()) => PlayOutcome::Playing,
        Err(e) if is_policy_refusal(&e) => {
            video.set_muted(true);
            match play(video).await {
                Ok(()) => PlayOutcome::PlayingMuted,
                Err(e) if is_policy_refusal(&e) => PlayOutcome::Blocked,
                Err(_) => PlayOutcome::Interrupted,
            }
        }
        Err(_) => PlayOutcome::Interrupted,
    }
}

/// Starts an unmuted `play()` at once, so that it runs inside the app's user-gesture handler
/// (some browsers honour only the gesture's own call stack), and returns the future of its
/// outcome. When sound is still refused the element goes back to muted playback and the
/// future fails with the browser's `NotAllowedError`.
pub fn unmute_and_play(
    video: HtmlVideoElement,
) -> impl std::future::Future<Output = Result<(), JsValue>> {
    video.set_muted(false);
    let started = video.play();
    async move {
        let result = match started {
            Ok(promise) => JsFuture::from(promise).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            if is_policy_refusal(e) {
                video.set_muted(true);
                // Only to keep the picture moving; its outcome changes nothing here.
                let _ = play(&video).await;
            }
        }
        result
    }
}
