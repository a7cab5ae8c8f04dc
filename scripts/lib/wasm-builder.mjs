// Byte helpers for the tests that assemble small wasm modules by hand (scripts/test/ and
// bench/test/): independent of the encoders under test, so a bug cannot hide in both.

/** Unsigned LEB128. */
export function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** A length-prefixed UTF-8 name. */
export const str = (s) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];

/** A section: id, size, body. */
export const section = (id, body) => [id, ...leb(body.length), ...body];
