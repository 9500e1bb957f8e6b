/**
 * Float sample values. Prometheus marks a series as stale with one particular NaN bit pattern
 * (0x7ff0000000000002); every other NaN is an ordinary value. The store keeps all 64 bits of a value,
 * so the two are told apart by their bits, never with `Number.isNaN` alone.
 */

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
// The platforms Node runs on are little-endian: word 0 holds the low 32 bits.
const LOW = 0;
const HIGH = 1;

const STALE_HIGH = 0x7ff00000;
const STALE_LOW = 0x00000002;

/** The stale marker as a number. Keep it in typed arrays or locals: plain JS arrays may rewrite NaN bits. */
export const StaleNaN: number = (() => {
  scratchWords[HIGH] = STALE_HIGH;
  scratchWords[LOW] = STALE_LOW;
  return scratch[0];
})();

export function isStaleNaN(v: number): boolean {
  if (!Number.isNaN(v)) return false;
  scratch[0] = v;
  return scratchWords[HIGH] === STALE_HIGH && scratchWords[LOW] === STALE_LOW;
}

/** True when two values have the same 64 bits (so NaN equals the same NaN, and 0 differs from -0). */
export function sameBits(a: number, b: number): boolean {
  if (a === b) return a !== 0 || 1 / a === 1 / b;
  if (!Number.isNaN(a) || !Number.isNaN(b)) return false;
  scratch[0] = a;
  const ah = scratchWords[HIGH];
  const al = scratchWords[LOW];
  scratch[0] = b;
  return ah === scratchWords[HIGH] && al === scratchWords[LOW];
}
