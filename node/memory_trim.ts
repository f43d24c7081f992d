/**
 * Gives memory this process no longer uses back to the kernel: the pages of read-only files (the
 * `deno` executable first of all) it touched and does not touch again, and the heap glibc's
 * malloc holds free.
 *
 * A Deno process maps its 95 MB executable. Starting an agent reads some 40 MiB of it: the dynamic
 * relocation table (3.6 MiB, read once by the loader), V8's start-up snapshot, the module loader
 * and transpiler. Starting pods reads more. Those clean pages stay in the process's RSS until
 * memory runs short, although an idle agent needs only about 26 MiB of them.
 * `madvise(MADV_PAGEOUT)` (Linux ≥ 5.4) drops them now; a page needed later is read back from the
 * file on its first touch. The kernel skips pages another process also maps, so a second Deno
 * process from the same executable keeps its pages. `malloc_trim(0)` hands back the free heap.
 *
 * Only mappings that are file-backed and not writable are paged out: there is nothing to write
 * back and nothing anonymous is swapped.
 *
 * {@linkcode trimMemory} does both once; {@linkcode QuietTimer} calls it once things have been
 * quiet for a while after they changed (the agent: its pods).
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";

/** `MADV_PAGEOUT` from `<linux/mman-common.h>`: reclaim these pages now. */
const MADV_PAGEOUT = 21;

/** One line of `/proc/self/maps` that `trimMemory()` may page out. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  path: string;
}

/** What `trimMemory()` did, or why it did nothing. */
export type TrimResult =
  | { trimmed: true; mappings: number; rssBeforeKiB: number; rssAfterKiB: number }
  | { trimmed: false; reason: string };

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) [0-9a-f]+ \S+ \d+\s+(\/.*)$/;

/**
 * The read-only, file-backed mappings in the text of `/proc/PID/maps`: what may be paged out
 * without writing anything back. Writable mappings, anonymous memory and the kernel's pseudo
 * mappings (`[vdso]`, `[stack]`, …) are left out, and so are files deleted since they were mapped.
 */
export function readOnlyFileMappings(maps: string): FileMapping[] {
  const mappings: FileMapping[] = [];
  for (const line of maps.split("\n")) {
    const match = MAPS_LINE.exec(line);
    if (!match) continue;
    const [, start, end, perms, path] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (perms[0] !== "r" || perms[1] === "w" || path.endsWith(" (deleted)")) continue;
    mappings.push({ start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path });
  }
  return mappings;
}

/** The `VmRSS` of a `/proc/PID/status` text, in KiB (0 when absent). */
export function vmRssKiB(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/**
 * Hands back the free malloc heap and pages out this process's read-only file pages (see the
 * module's doc). It costs a millisecond or two; what is touched again is read back on its first
 * touch. Where it cannot work (not Linux, no FFI permission, no glibc, a kernel before 5.4) it
 * changes nothing and says why.
 */
export function trimMemory(): TrimResult {
  if (Deno.build.os !== "linux") return { trimmed: false, reason: "not Linux" };
  let libc: Deno.DynamicLibrary<typeof LIBC>;
  try {
    libc = Deno.dlopen("libc.so.6", LIBC);
  } catch (error) {
    return { trimmed: false, reason: `cannot load libc.so.6: ${(error as Error).message}` };
  }
  try {
    const rssBeforeKiB = vmRssKiB(Deno.readTextFileSync("/proc/self/status"));
    libc.symbols.malloc_trim(0n);
    const mappings = readOnlyFileMappings(Deno.readTextFileSync("/proc/self/maps"));
    let done = 0;
    for (const { start, end } of mappings) {
      const code = libc.symbols.madvise(
        Deno.UnsafePointer.create(start),
        end - start,
        MADV_PAGEOUT,
      );
      if (code === 0) done++;
    }
    if (done === 0) {
      return {
        trimmed: false,
        reason: mappings.length === 0
          ? "no read-only file mappings"
          : "madvise(MADV_PAGEOUT) refused (a kernel before 5.4?)",
      };
    }
    const rssAfterKiB = vmRssKiB(Deno.readTextFileSync("/proc/self/status"));
    return { trimmed: true, mappings: done, rssBeforeKiB, rssAfterKiB };
  } finally {
    libc.close();
  }
}

const LIBC = {
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

/**
 * Calls `fire` once things have been quiet for `quietMs`: each {@linkcode touch} (something
 * changed) starts the wait again, so a burst of changes ends in one call, `quietMs` after the
 * last of them.
 *
 * @example
 * ```ts
 * const quiet = new QuietTimer(systemClock, 60_000, () => trimMemory());
 * quiet.touch(); // a pod changed
 * ```
 */
export class QuietTimer {
  readonly #clock: Clock;
  readonly #quietMs: number;
  readonly #fire: () => void;
  #wait: AbortController | undefined;

  constructor(clock: Clock, quietMs: number, fire: () => void) {
    this.#clock = clock;
    this.#quietMs = quietMs;
    this.#fire = fire;
  }

  /** Something changed: fire `quietMs` from now, unless something changes again first. */
  touch(): void {
    this.#wait?.abort();
    const wait = new AbortController();
    this.#wait = wait;
    this.#clock.sleep(this.#quietMs, wait.signal).then(() => {
      if (wait.signal.aborted) return;
      this.#wait = undefined;
      this.#fire();
    });
  }

  /** Whether a call is pending. */
  get pending(): boolean {
    return this.#wait !== undefined;
  }

  /** No call any more (until the next touch). */
  stop(): void {
    this.#wait?.abort();
    this.#wait = undefined;
  }
}
