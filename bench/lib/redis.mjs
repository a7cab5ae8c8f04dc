// A throw-away redis-server on a free loopback port (no persistence), for the backend's shared
// limits in the load measurement. redis-server comes from scripts/setup.sh (Debian's package).
import { spawn } from "node:child_process";
import net from "node:net";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once `PING` on `port` answers `+PONG`. */
function pong(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      answer += d;
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
  });
}

/** Starts redis-server; resolves with its `redis://` URL and a stop(). */
export async function startRedis({ readyTimeoutMs = 10_000 } = {}) {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const failed = new Promise((_, reject) => child.once("error", (e) => reject(new Error(`redis-server: ${e.message} (scripts/setup.sh installs it)`))));
  const deadline = performance.now() + readyTimeoutMs;
  const ready = (async () => {
    while (performance.now() < deadline) {
      if (await pong(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} not ready after ${readyTimeoutMs} ms`);
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return {
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
