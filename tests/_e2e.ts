/**
 * Helpers shared by the end-to-end tests on real podman: tool checks, the test image, podman
 * itself, and polling with a deadline.
 *
 * @module
 */

import { canCreateNamespaces } from "./_netns.ts";

/** Stock kubectl, as the machines have it. */
export const KUBECTL = "/usr/bin/kubectl";
/** The image every e2e pod runs (built by `scripts/build_test_image.sh`). */
export const IMAGE = "localhost/edge-test:1";

/** Why the e2e tests cannot run here (a tool is missing), or undefined. */
export async function haveTools(): Promise<string | undefined> {
  for (const tool of [KUBECTL, "/usr/bin/podman"]) {
    try {
      await Deno.stat(tool);
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

const PODMAN_MISSING = await haveTools();
const NETNS_MISSING = PODMAN_MISSING ?? await canCreateNamespaces();

/**
 * The `Deno.test` options every end-to-end test shares: ignored (with the reason printed once)
 * where the machine lacks podman and kubectl or, with `netns`, network namespaces; sanitizers off,
 * since these tests start processes that outlive a step.
 *
 * @example
 * ```ts
 * Deno.test({ name: "pods run", ...e2eOptions(), async fn(t) { … } });
 * ```
 */
export function e2eOptions(
  options: { netns?: boolean } = {},
): { ignore: boolean; sanitizeResources: false; sanitizeOps: false } {
  const missing = options.netns ? NETNS_MISSING : PODMAN_MISSING;
  if (missing) console.log(`end-to-end tests ignored: ${missing}`);
  return { ignore: missing !== undefined, sanitizeResources: false, sanitizeOps: false };
}

/** Builds the test image (idempotent). */
export async function buildImage(): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [new URL("../scripts/build_test_image.sh", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** Runs `podman ARGS` and returns its stdout. */
export async function podman(args: string[]): Promise<string> {
  const out = await new Deno.Command("podman", { args, stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

/**
 * Polls `check` until it returns a value (not undefined), for at most `ms`; a check that
 * throws counts as not yet, and its last error is in the timeout's message.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}
