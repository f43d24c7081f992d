/**
 * kubectl's describe `PrefixWriter` over a tabwriter with padding 2: `write(level, text)`
 * indents by two spaces per level; tabs in `text` separate aligned cells.
 *
 * @module
 */

import { alignTabs } from "./_tabwriter.ts";

/** Collects describe output and aligns it as kubectl's tabwriter does. */
export class DescribeWriter {
  #done = "";
  #pending = "";

  /** Write `text` indented by `level` (0: none, 1: two spaces, …). */
  write(level: number, text: string): void {
    this.#pending += "  ".repeat(level) + text;
  }

  /** Align what was written so far as one block (kubectl flushes before Events tables). */
  flush(): void {
    this.#done += alignTabs(this.#pending, 2);
    this.#pending = "";
  }

  /** The aligned output. */
  toString(): string {
    this.flush();
    return this.#done;
  }
}
