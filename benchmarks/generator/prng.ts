/**
 * Small, fast, seedable pseudo-random numbers for the synthetic data generators.
 *
 * `Prng` is sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit state, with a counter that
 * guarantees a period of at least 2^32 for every seed). It never touches Math.random, so the same
 * seed always yields the same sequence on every platform.
 */

const TWO_32 = 4294967296;

/** murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes a few non-negative integers (each below 2^53) to a uint32. Pure and order sensitive:
 * `hash32(1, 2) !== hash32(2, 1)` in general.
 */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    const lo = v >>> 0;
    const hi = Math.floor(v / TWO_32) >>> 0;
    h = fmix32((h ^ lo) + 0x7f4a7c15);
    h = fmix32((h ^ hi) + 0x6a09e667);
  }
  return h;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds from any number of integers (e.g. `new Prng(seed, personIndex)`); equal inputs, equal streams. */
  constructor(...seeds: number[]) {
    this.a = hash32(0x51ed270b, ...seeds);
    this.b = hash32(0x2545f491, ...seeds);
    this.c = hash32(0x3c6ef372, ...seeds);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_32;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element; the array must not be empty. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** An index chosen with probability proportional to its weight (weights ≥ 0, not all zero). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** An element chosen with probability proportional to its weight: `weighted(['a', 'b'], [3, 1])`. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    return items[this.weightedIndex(weights)] as T;
  }

  /** `digits` lower-case hex characters (1–8). */
  hex(digits: number): string {
    return (this.nextUint32() >>> (32 - 4 * digits)).toString(16).padStart(digits, '0');
  }
}
