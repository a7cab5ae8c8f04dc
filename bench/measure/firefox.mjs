// First frame in Firefox ESR, on loopback: the same pages and probe marks as the Chromium rows,
// driven over WebDriver BiDi through the e2e suites' Firefox driver. Firefox has no DevTools
// network emulation, so only the loopback profile runs here; each run is a new browser context
// (a container with its own HTTP cache), so every visit is a cold one.
import { allowOrigin, launchFirefox } from "../../tests/e2e/firefox-driver.mjs";
import { CLIENTS, endSessions, pageUrl, waitForMarks } from "./pages.mjs";
import { runFromMarks, summarizeRuns } from "./ttff.mjs";

export const FIREFOX_CLIENTS = ["ours", "official", "floor-mic"];

/** `rounds` rounds of every client in `clients`, the order reversed every other round. */
export async function measureFirefox(env, { clients = FIREFOX_CLIENTS, rounds, log = () => {} }) {
  // The page's origin must hold a stored microphone grant for Firefox to offer loopback
  // candidates (tests/e2e/firefox-driver.mjs); the profile is written with it at launch.
  const release = allowOrigin(env.origin);
  const browser = await launchFirefox();
  const runs = [];
  const failures = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const client of round % 2 ? [...clients].reverse() : clients) {
        const spec = CLIENTS[client];
        const context = await browser.newContext({ origin: env.origin });
        try {
          const page = await context.newPage();
          await page.goto(await pageUrl(env, spec.page, spec.hash ?? {}), { waitUntil: "load" });
          const need = spec.sdk ? ["first frame", "VIDEO_PLAY_STARTED"] : ["first frame"];
          const run = runFromMarks(client, await waitForMarks(page, need));
          runs.push(run);
          log(`firefox ${client} round ${round + 1}: first frame ${run.navToFirstFrame?.toFixed(0)} ms after navigation`);
        } catch (e) {
          failures.push({ client, round, error: String(e.message ?? e).slice(0, 300) });
          log(`firefox ${client} round ${round + 1} failed: ${e.message}`);
        } finally {
          await context.close();
          await endSessions(env);
        }
      }
    }
    return { version: browser.version(), rounds, clients, ...summarizeRuns(runs, clients), failures };
  } finally {
    await browser.close();
    release();
  }
}
