// Memory across repeated sessions on ONE client object: after each stream/stop cycle, force a
// full garbage collection through the DevTools protocol and read the JS heap, the DOM counters
// and (for our client) the size of the wasm linear memory.
import { slope, summarize } from "../lib/stats.mjs";
import { openClientPage, waitForMarks, closePage } from "./pages.mjs";

async function sample(page, cdp, cycle) {
  // The probe's own records (Resource Timing entries, dead peer-connection refs) grow with every
  // session: drop them so the heap shows the client, not the instrumentation.
  await page.evaluate(() => {
    performance.clearResourceTimings();
    const B = window.__bench;
    B.peers = B.peers.filter((ref) => ref.deref() !== undefined);
  });
  // Two passes: objects freed by finalizers of the first pass are collected by the second.
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  const dom = await cdp.send("Memory.getDOMCounters").catch(() => ({}));
  const wasmBytes = await page.evaluate(() => window.__bench.wasmMemory?.buffer.byteLength ?? null);
  return {
    cycle,
    jsHeapUsed: heap.usedSize,
    jsHeapTotal: heap.totalSize,
    wasmMemory: wasmBytes,
    domNodes: dom.nodes ?? null,
    jsEventListeners: dom.jsEventListeners ?? null,
  };
}

/** `cycles` stream/stop cycles on one client of `client`; a sample before the first and after each. */
export async function measureMemory(env, client, { cycles, log = () => {} }) {
  const page = await openClientPage(env, client, { mode: "manual" });
  try {
    await waitForMarks(page, ["manual ready"]);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("HeapProfiler.enable");
    const samples = [await sample(page, cdp, 0)];
    const failures = [];
    for (let i = 1; i <= cycles; i++) {
      try {
        await page.evaluate(() => window.__bench.cycle());
      } catch (e) {
        // Keep going: one failed session says something about the client, not about memory.
        failures.push({ cycle: i, error: String(e.message ?? e).split("\n")[0].slice(0, 300) });
        log(`memory ${client} cycle ${i} failed: ${failures.at(-1).error}`);
        await page.evaluate(() => window.__bench.client.stopStreaming()).catch(() => {});
      }
      samples.push(await sample(page, cdp, i));
      log(`memory ${client} cycle ${i}/${cycles}: heap ${(samples.at(-1).jsHeapUsed / 1024).toFixed(0)} KiB, wasm ${samples.at(-1).wasmMemory ?? "-"}`);
    }
    // Growth is judged on the cycles after the first (which pays one-time caches and pools).
    const steady = samples.filter((s) => s.cycle >= 1);
    const heaps = steady.map((s) => s.jsHeapUsed);
    const wasm = steady.map((s) => s.wasmMemory).filter((x) => x !== null);
    return {
      client,
      cycles,
      failures,
      samples,
      jsHeapAfterFirst: steady[0]?.jsHeapUsed ?? null,
      jsHeapAfterLast: steady.at(-1)?.jsHeapUsed ?? null,
      jsHeapSlopePerCycle: slope(heaps),
      // The second half shows whether growth continues once one-time caches have filled.
      jsHeapSlopeSecondHalf: slope(heaps.slice(Math.floor(heaps.length / 2))),
      jsHeap: summarize(heaps),
      wasmMemoryAfterFirst: wasm[0] ?? null,
      wasmMemoryAfterLast: wasm.at(-1) ?? null,
      wasmMemorySlopePerCycle: wasm.length ? slope(wasm) : null,
      wasmMemorySlopeSecondHalf: wasm.length ? slope(wasm.slice(Math.floor(wasm.length / 2))) : null,
      domNodesSlopePerCycle: slope(steady.map((s) => s.domNodes)),
      listenersSlopePerCycle: slope(steady.map((s) => s.jsEventListeners)),
    };
  } finally {
    await closePage(page, env);
  }
}
