/**
 * The children of a metric with two labels, each bound once on first use and
 * then reused: a call costs two Map reads, never a label-set hash.
 */
export class ChildCache<C> {
  readonly #rows = new Map<string, Map<string, C>>()
  readonly #bind: (a: string, b: string) => C
  readonly #known: readonly string[]

  /**
   * @param bind creates the child for the label values (a, b)
   * @param known second-label values bound as soon as a first-label value is
   *   seen, so their series are exported at 0 from then on
   */
  constructor(bind: (a: string, b: string) => C, known: readonly string[] = []) {
    this.#bind = bind
    this.#known = known
  }

  get(a: string, b: string): C {
    let row = this.#rows.get(a)
    if (row === undefined) row = this.row(a)
    let child = row.get(b)
    if (child === undefined) {
      child = this.#bind(a, b)
      row.set(b, child)
    }
    return child
  }

  /** Binds the row of `a` (with every known second label) if it is not bound yet. */
  row(a: string): Map<string, C> {
    let row = this.#rows.get(a)
    if (row === undefined) {
      row = new Map(this.#known.map((b) => [b, this.#bind(a, b)]))
      this.#rows.set(a, row)
    }
    return row
  }
}
