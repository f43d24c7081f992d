/**
 * The test command (`deno task test`, called by `./scripts/test`).
 *
 * Runs `deno test --allow-all` over the whole repository (unit tests beside the code and
 * integration tests in `tests/`), streams its output live, and ends with one line alone:
 * `N passed, N failed`. N counts tests, not steps: it is read from Deno's own summary line
 * (`ok | 12 passed (3 steps) | 0 failed`), where steps are reported apart in parentheses.
 *
 * The exit code is non-zero iff a test failed or `deno test` itself failed (a type error, a
 * module that throws while loading). When `deno test` fails without counting a failed test,
 * the final line still says at least `1 failed`, so the count never hides a failure.
 *
 * A test ignored because the machine lacks what it needs (podman, kubectl, nft, root for network
 * namespaces: each such test says why) counts as failed, since `./scripts/test` installs all of
 * it first; `EDGE_TEST_ALLOW_IGNORED=1` lets them pass as ignored on a partial machine.
 *
 * Extra arguments are passed to `deno test`, e.g. a path filter or `--filter`:
 *
 * ```sh
 * deno task test tests/kubectl_test.ts
 * deno task test --filter "kubectl apply"
 * ```
 *
 * @module
 */

/** Counts read from Deno's summary line. */
export interface TestCounts {
  passed: number;
  failed: number;
  ignored: number;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const SUMMARY =
  /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored\b)?/;

/** Parses one line of `deno test` output; returns the counts if it is the summary line. */
export function parseSummaryLine(line: string): TestCounts | undefined {
  const match = SUMMARY.exec(line.replace(ANSI, "").trim());
  if (!match) return undefined;
  return { passed: Number(match[1]), failed: Number(match[2]), ignored: Number(match[3] ?? 0) };
}

/** Copies a stream to `out` as it arrives and calls `onLine` for each complete line. */
async function tee(
  stream: ReadableStream<Uint8Array>,
  out: typeof Deno.stdout,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    let written = 0;
    while (written < chunk.length) written += await out.write(chunk.subarray(written));
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  }
  pending += decoder.decode();
  if (pending !== "") onLine(pending);
}

async function main(args: string[]): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();

  // Pass an interrupt on, so the tests stop the servers they started.
  const forward = (signal: Deno.Signal) => () => {
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
  };
  const forwarders = (["SIGINT", "SIGTERM"] as const).map((s) => [s, forward(s)] as const);
  for (const [signal, handler] of forwarders) Deno.addSignalListener(signal, handler);

  let counts: TestCounts | undefined;
  const onLine = (line: string) => {
    counts = parseSummaryLine(line) ?? counts;
  };
  const [status] = await Promise.all([
    child.status,
    tee(child.stdout, Deno.stdout, onLine),
    tee(child.stderr, Deno.stderr, onLine),
  ]);

  for (const [signal, handler] of forwarders) Deno.removeSignalListener(signal, handler);

  const passed = counts?.passed ?? 0;
  let failed = counts?.failed ?? 0;
  if (!status.success && failed === 0) failed = 1;
  const ignored = counts?.ignored ?? 0;
  if (ignored > 0 && Deno.env.get("EDGE_TEST_ALLOW_IGNORED") !== "1") {
    console.log(
      `${ignored} test(s) ignored for want of a tool or privilege (their reasons are above); ` +
        "counted as failed (EDGE_TEST_ALLOW_IGNORED=1 allows this on a partial machine)",
    );
    failed += ignored;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
