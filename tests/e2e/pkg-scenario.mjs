// What every "way in" test checks once its page is loaded (Vite bundle, <script type="module">,
// classic <script src>): the page streams a persona whose video really shows pictures, and
// talk() produces a persona transcript. The pages expose `window.__e2e` with `ready` (a Promise
// of true once the package loaded), `start()`, the `events` seen and the `messages` by id.
import assert from "node:assert/strict";
import { waitFor } from "./harness.mjs";

/**
 * How long a first frame may take. A debug-built emulator encodes its persona frames when it
 * starts (about 25 s per persona, one after the other, on two cores) and sends video only after
 * that; a warm one answers in well under a second.
 */
export const FIRST_FRAME_TIMEOUT_MS = 90_000;

/**
 * Samples the <video> through a small canvas: mean luma and its standard deviation. A black or
 * single-colour frame has a tiny deviation; the emulator's persona has a face on a background.
 */
export async function videoStats(page, selector = "#persona-video") {
  return page.evaluate((sel) => {
    const video = document.querySelector(sel);
    if (!video || video.videoWidth === 0 || video.readyState < 2) return null;
    const w = 64;
    const h = Math.max(1, Math.round((w * video.videoHeight) / video.videoWidth));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    const px = ctx.getImageData(0, 0, w, h).data;
    let sum = 0;
    let sumSq = 0;
    const n = w * h;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
      sum += y;
      sumSq += y * y;
    }
    const mean = sum / n;
    return {
      width: video.videoWidth,
      height: video.videoHeight,
      mean,
      std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
    };
  }, selector);
}

/** Waits until the video shows a picture with real contrast (not black, not one flat colour). */
export async function assertVideoNotBlank(page, selector = "#persona-video") {
  const stats = await waitFor(
    async () => {
      const s = await videoStats(page, selector);
      return s && s.mean > 8 && s.std > 6 ? s : null;
    },
    { timeoutMs: 15_000, what: `a non-blank frame in ${selector}` },
  );
  assert.ok(stats.width >= 64 && stats.height >= 36, `video is ${stats.width}x${stats.height}`);
  return stats;
}

export function eventNames(page) {
  return page.evaluate(() => window.__e2e.events.map((e) => e.name));
}

/** Loads the package in the page, streams a persona and checks video + transcript. */
export async function streamAndTalk(page) {
  const loaded = await page.evaluate(() => window.__e2e.ready);
  const errors = await page.evaluate(() => window.__e2e.errors);
  assert.equal(loaded, true, `the page failed to load the package: ${errors.join("\n")}`);

  await page.evaluate(() => window.__e2e.start());
  for (const name of ["VIDEO_PLAY_STARTED", "CONNECTION_ESTABLISHED", "DATA_CHANNEL_OPEN", "SESSION_READY"]) {
    try {
      await waitFor(async () => (await eventNames(page)).includes(name), { timeoutMs: FIRST_FRAME_TIMEOUT_MS, what: name });
    } catch (err) {
      err.message += `\nevents: ${(await eventNames(page)).join(", ")}\nconsole:\n${page.consoleLines.slice(-20).join("\n")}`;
      throw err;
    }
  }
  await assertVideoNotBlank(page);

  const sentence = "Three ways in, one persona talking.";
  await page.evaluate((s) => window.__e2e.client.talk(s), sentence);
  const said = await waitFor(
    async () => {
      const messages = await page.evaluate(() => Object.values(window.__e2e.messages));
      return messages.find((m) => m.role === "persona" && m.end && m.content.includes("one persona talking"));
    },
    { timeoutMs: 20_000, what: "the persona transcript of talk()" },
  );
  assert.equal(said.content.replace(/\s+/g, " ").trim(), sentence);
  assert.equal(said.interrupted, false);

  await page.evaluate(() => window.__e2e.client.stopStreaming());
  const after = await page.evaluate(() => window.__e2e.client.isStreaming());
  assert.equal(after, false);
}
