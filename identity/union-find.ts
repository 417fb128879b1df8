/**
 * Union-find (disjoint sets) over dense integer ids, on typed arrays: path halving in `find`, union
 * by size. Ids are handed out by `add()` (0, 1, 2, …) and the arrays grow by doubling, so ~3M
 * identifiers and ~10M unions run in well under a second with no per-element objects.
 *
 * `InternedUnionFind` adds string interning (`Map<string, number>`) for callers that think in keys.
 */

export class UnionFind {
  private parent: Int32Array;
  private sizes: Int32Array;
  private count = 0;

  constructor(initialCapacity = 1024) {
    const capacity = Math.max(16, initialCapacity);
    this.parent = new Int32Array(capacity);
    this.sizes = new Int32Array(capacity);
  }

  /** Number of elements. */
  get length(): number {
    return this.count;
  }

  /** Adds a singleton set and returns its id. */
  add(): number {
    if (this.count === this.parent.length) this.grow();
    const id = this.count++;
    this.parent[id] = id;
    this.sizes[id] = 1;
    return id;
  }

  /** The representative of `x`'s set (path halving). */
  find(x: number): number {
    const parent = this.parent;
    let p = parent[x] as number;
    while (p !== x) {
      const gp = parent[p] as number;
      parent[x] = gp;
      x = gp;
      p = parent[x] as number;
    }
    return x;
  }

  /**
   * Joins the sets of `a` and `b` (union by size); returns the new representative, or -1 when they
   * were already one set. The other former representative is `a`'s or `b`'s old root.
   */
  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    return ra === rb ? -1 : this.unionRoots(ra, rb);
  }

  /** Joins two *representatives* (no find); returns the surviving one. */
  unionRoots(ra: number, rb: number): number {
    const sizes = this.sizes;
    if ((sizes[ra] as number) < (sizes[rb] as number)) {
      const t = ra;
      ra = rb;
      rb = t;
    }
    this.parent[rb] = ra;
    sizes[ra] = (sizes[ra] as number) + (sizes[rb] as number);
    return ra;
  }

  /** Size of `x`'s set. */
  size(x: number): number {
    return this.sizes[this.find(x)] as number;
  }

  connected(a: number, b: number): boolean {
    return this.find(a) === this.find(b);
  }

  /** Makes room for `n` elements in all (arrays sized once instead of doubling on the way). */
  reserve(n: number): void {
    if (n > this.parent.length) this.grow(n);
  }

  private grow(capacity = this.parent.length * 2): void {
    const parent = new Int32Array(capacity);
    parent.set(this.parent);
    const sizes = new Int32Array(capacity);
    sizes.set(this.sizes);
    this.parent = parent;
    this.sizes = sizes;
  }
}

/** Union-find over string keys: each new key gets the next integer id. */
export class InternedUnionFind {
  readonly sets: UnionFind;
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [];

  constructor(initialCapacity = 1024) {
    this.sets = new UnionFind(initialCapacity);
  }

  get length(): number {
    return this.keys.length;
  }

  /** The id of `key`, interning it when new. */
  id(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.add();
      this.ids.set(key, id);
      this.keys.push(key);
    }
    return id;
  }

  /** The id of `key` if interned. */
  lookup(key: string): number | undefined {
    return this.ids.get(key);
  }

  key(id: number): string {
    const key = this.keys[id];
    if (key === undefined) throw new RangeError(`no key with id ${id}`);
    return key;
  }

  union(a: string, b: string): boolean {
    return this.sets.union(this.id(a), this.id(b)) !== -1;
  }

  find(key: string): string {
    return this.key(this.sets.find(this.id(key)));
  }

  connected(a: string, b: string): boolean {
    return this.sets.connected(this.id(a), this.id(b));
  }

  /**
   * All sets with more than `minSize - 1` members, as key lists, in order of their first-interned
   * member (members in interning order). Grouped in typed arrays (each key's root, each root's size
   * and its slot in the output): no per-set map.
   */
  components(minSize = 1): string[][] {
    const n = this.keys.length;
    const root = new Int32Array(n);
    const count = new Int32Array(n);
    for (let i = 0; i < n; i++) count[(root[i] = this.sets.find(i))]!++;
    const out: string[][] = [];
    const slot = new Int32Array(n).fill(-1); // the index in `out` of each root's set
    for (let i = 0; i < n; i++) {
      const r = root[i]!;
      if (count[r]! < minSize) continue;
      if (slot[r] === -1) {
        slot[r] = out.length;
        out.push([]);
      }
      out[slot[r]!]!.push(this.keys[i]!);
    }
    return out;
  }
}
