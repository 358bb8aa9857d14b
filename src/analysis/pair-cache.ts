// Values made from two parts, each made once and then found by its parts. A record's strings come
// interned (one string per distinct bytes, record-rows.ts) and its pods are the PodIndex's own
// objects, so finding a value costs two Map lookups of keys whose hashes are known, where making
// it anew costs a string (and its hash) or a Buffer per record. Bounded: past maxEntries values
// (routes come from the network, pods churn) it starts over.

export class PairCache<A, B, V> {
  private readonly byFirst = new Map<A, Map<B, V>>();
  private entries = 0;

  constructor(
    private readonly make: (a: A, b: B) => V,
    private readonly maxEntries = 4096,
  ) {}

  get(a: A, b: B): V {
    let bySecond = this.byFirst.get(a);
    if (bySecond?.has(b)) return bySecond.get(b)!;
    if (this.entries >= this.maxEntries) {
      this.byFirst.clear();
      this.entries = 0;
      bySecond = undefined;
    }
    if (!bySecond) this.byFirst.set(a, (bySecond = new Map()));
    const value = this.make(a, b);
    bySecond.set(b, value);
    this.entries++;
    return value;
  }
}
