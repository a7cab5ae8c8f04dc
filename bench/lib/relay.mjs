// A TCP relay in front of the emulator's signalling WebSocket that delays every byte after the
// WebSocket handshake by half the profile's round trip, in each direction.
//
// Why it exists: Network.emulateNetworkConditions delays a WebSocket's opening handshake by the
// emulated latency but none of its frames (measured in Chromium 156: an echo took 6.5 ms under a
// 150 ms profile), so without the relay the offer → answer exchange and the trickled candidates
// would cross a "slow 4G" link at loopback speed. Bytes before the handshake's response pass
// undelayed, because the emulation already charged that round trip.
import net from "node:net";

/**
 * Starts a relay to `target` ({host, port}) delaying post-handshake bytes by `oneWayMs` in each
 * direction. Returns {port, stop()}.
 */
export async function startWsRelay(target, oneWayMs) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let upgraded = false;
    // Chunks keep their order: every one waits the same time, and Node runs timers of equal
    // duration in the order they were set.
    const forward = (to, chunk) => {
      if (!upgraded || oneWayMs <= 0) to.write(chunk);
      else setTimeout(() => to.destroyed || to.write(chunk), oneWayMs);
    };
    client.on("data", (chunk) => forward(upstream, chunk));
    upstream.on("data", (chunk) => {
      const wasUpgraded = upgraded;
      // The handshake's response is one chunk that starts with the status line; from the next
      // chunk on the connection carries frames.
      if (!upgraded && chunk.subarray(0, 12).toString("latin1") === "HTTP/1.1 101") upgraded = true;
      if (wasUpgraded) forward(client, chunk);
      else client.write(chunk);
    });
    const closeBoth = () => {
      // Pending delayed chunks still go out before the end, like on a slow link.
      const end = () => {
        client.end();
        upstream.end();
      };
      if (upgraded && oneWayMs > 0) setTimeout(end, oneWayMs);
      else end();
    };
    client.on("end", closeBoth);
    upstream.on("end", closeBoth);
    for (const s of [client, upstream]) {
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(resolve);
      }),
  };
}
