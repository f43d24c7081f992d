import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { QuietTimer, readOnlyFileMappings, vmRssKiB } from "./memory_trim.ts";

const MAPS =
  `55d0c2a00000-55d0c458e000 r--p 00000000 fe:00 5308493                    /opt/deno/deno
55d0c4804000-55d0c84f8000 r-xp 01b8e000 fe:00 5308493                    /opt/deno/deno
55d0c84f8000-55d0c8769000 rw-p 05881000 fe:00 5308493                    /opt/deno/deno
55d0c9000000-55d0c9400000 rw-p 00000000 00:00 0                          [heap]
7f2a10000000-7f2a10021000 rw-p 00000000 00:00 0 
7f2a14c00000-7f2a14c4e000 r--s 00000000 fe:00 1181                       /root/.cache/deno/dep_analysis_cache_v2
7f2a14d00000-7f2a14d08000 rw-s 00000000 fe:00 1182                       /data/agent.kv-shm
7f2a14e00000-7f2a14f95000 r-xp 00028000 fe:00 3413                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f2a15000000-7f2a15001000 r--p 00000000 fe:00 9999                       /tmp/old.so (deleted)
7f2a15100000-7f2a15101000 ---p 00000000 fe:00 3413                       /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd1b9f1000-7ffd1b9f3000 r-xp 00000000 00:00 0                          [vdso]
7ffd1b9ee000-7ffd1b9f1000 r--p 00000000 00:00 0                          [vvar]
`;

Deno.test("readOnlyFileMappings() keeps readable, unwritable file mappings and nothing else", () => {
  assert.deepEqual(
    readOnlyFileMappings(MAPS).map((m) => [m.start.toString(16), m.end.toString(16), m.path]),
    [
      ["55d0c2a00000", "55d0c458e000", "/opt/deno/deno"],
      ["55d0c4804000", "55d0c84f8000", "/opt/deno/deno"],
      ["7f2a14c00000", "7f2a14c4e000", "/root/.cache/deno/dep_analysis_cache_v2"],
      ["7f2a14e00000", "7f2a14f95000", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ],
  );
  assert.deepEqual(readOnlyFileMappings(""), []);
});

Deno.test("vmRssKiB() reads VmRSS from /proc/PID/status", () => {
  assert.equal(
    vmRssKiB("Name:\tdeno\nVmHWM:\t  70000 kB\nVmRSS:\t   61234 kB\nRssAnon:\t 2 kB\n"),
    61234,
  );
  assert.equal(vmRssKiB("Name:\tdeno\n"), 0);
  assert.ok(vmRssKiB(Deno.readTextFileSync("/proc/self/status")) > 0);
});

/**
 * A Deno process from an executable of its own (a copy: pages this test runner also maps are
 * shared, and the kernel leaves shared pages alone) trims its memory: start-up pages go, it keeps running,
 * and reads back only what it touches again.
 */
Deno.test("trimMemory() drops a fresh Deno process's executable pages, which keeps working", async () => {
  const dir = await Deno.makeTempDir({ prefix: "memory-trim-" });
  try {
    const deno = `${dir}/deno`;
    await Deno.copyFile(Deno.execPath(), deno);
    await Deno.chmod(deno, 0o755);
    const module = new URL("./memory_trim.ts", import.meta.url).href;
    const script = `
      import { trimMemory } from ${JSON.stringify(module)};
      const rssFile = () => Number(/^RssFile:\\s+(\\d+)/m.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
      const fileBefore = rssFile();
      const result = trimMemory();
      const fileAfter = rssFile();
      const work = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ i, s: String(i) })));
      console.log(JSON.stringify({ result, fileBefore, fileAfter, work }));
    `;
    const output = await new Deno.Command(deno, {
      args: ["eval", "--no-config", script],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    const report = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.equal(report.result.trimmed, true, JSON.stringify(report));
    assert.ok(report.result.mappings >= 2, JSON.stringify(report));
    // a fresh Deno process holds well over 20 MiB of its executable; most of it goes
    assert.ok(
      report.fileBefore - report.fileAfter > 10 * 1024,
      `RssFile ${report.fileBefore} → ${report.fileAfter} KiB`,
    );
    assert.ok(report.result.rssAfterKiB < report.result.rssBeforeKiB - 10 * 1024);
    assert.equal(
      report.work,
      JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ i, s: String(i) }))),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("QuietTimer fires once, quietMs after the last of a burst of touches", async () => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  const quiet = new QuietTimer(clock, 60_000, () => fired.push(clock.now()));
  assert.equal(quiet.pending, false);
  quiet.touch();
  await clock.advance(30_000);
  quiet.touch();
  await clock.advance(59_000);
  assert.deepEqual(fired, [], "touched again 30 s in: the wait starts over");
  quiet.touch();
  assert.equal(quiet.pending, true);
  await clock.advance(60_000);
  assert.deepEqual(fired, [149_000]);
  assert.equal(quiet.pending, false);
  await clock.advance(600_000);
  assert.deepEqual(fired, [149_000], "nothing changed since: no second call");
  quiet.touch();
  quiet.stop();
  await clock.advance(120_000);
  assert.deepEqual(fired, [149_000], "stopped");
  assert.equal(clock.pending, 0, "no sleep left behind");
});
