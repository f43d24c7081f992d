/**
 * Hands back to the kernel the pages of read-only files (the `deno` executable first of all) that
 * this process touched while starting and does not touch again.
 *
 * A Deno process maps its 95 MB executable. Starting an agent reads some 40 MiB of it: the dynamic
 * relocation table (3.6 MiB, read once by the loader), V8's start-up snapshot, the module loader
 * and transpiler. Those clean pages stay in the process's RSS until memory runs short, although
 * an idle agent needs only about 26 MiB of them. `madvise(MADV_PAGEOUT)` (Linux ≥ 5.4) drops them
 * now; a page needed later is read back from the file on its first touch. The kernel skips pages
 * another process also maps, so a second Deno process from the same executable keeps its pages.
 *
 * Only mappings that are file-backed and not writable are touched: there is nothing to write back
 * and nothing anonymous is swapped.
 *
 * @module
 */

/** `MADV_PAGEOUT` from `<linux/mman-common.h>`: reclaim these pages now. */
const MADV_PAGEOUT = 21;

/** One line of `/proc/self/maps` that `releaseStartupPages()` may page out. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  path: string;
}

/** What `releaseStartupPages()` did, or why it did nothing. */
export type PageOutResult =
  | { released: true; mappings: number; rssBeforeKiB: number; rssAfterKiB: number }
  | { released: false; reason: string };

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
 * Pages out this process's read-only file pages (see the module's doc). Call it once, when
 * start-up is over; it costs about a millisecond. Where it cannot work (not Linux, no FFI
 * permission, no glibc, a kernel before 5.4) it changes nothing and says why.
 */
export function releaseStartupPages(): PageOutResult {
  if (Deno.build.os !== "linux") return { released: false, reason: "not Linux" };
  let libc: Deno.DynamicLibrary<{
    madvise: { parameters: ["pointer", "usize", "i32"]; result: "i32" };
  }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
    });
  } catch (error) {
    return { released: false, reason: `cannot load libc.so.6: ${(error as Error).message}` };
  }
  try {
    const rssBeforeKiB = vmRssKiB(Deno.readTextFileSync("/proc/self/status"));
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
        released: false,
        reason: mappings.length === 0
          ? "no read-only file mappings"
          : "madvise(MADV_PAGEOUT) refused (a kernel before 5.4?)",
      };
    }
    const rssAfterKiB = vmRssKiB(Deno.readTextFileSync("/proc/self/status"));
    return { released: true, mappings: done, rssBeforeKiB, rssAfterKiB };
  } finally {
    libc.close();
  }
}
