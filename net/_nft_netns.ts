/**
 * Throwaway network namespaces for the proxy's tests and benchmark: rules are applied and
 * traffic is sent only inside a namespace created here, which has no route out of it.
 *
 * @module
 */

/** Why nft cannot be exercised here (not root, tool missing), or undefined when it can. */
export async function nftSkipReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "nftables needs Linux";
  for (const tool of ["/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/nsenter"]) {
    try {
      await Deno.stat(tool);
    } catch {
      return `${tool} is not installed`;
    }
  }
  if (Deno.uid() !== 0) return "network namespaces need root";
  return undefined;
}

/** Runs `cmd args` (stdin optional) and returns stdout; throws with stderr on failure. */
export async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  const out = await output;
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().slice(0, 4000);
    throw new Error(`${cmd} ${args.join(" ")}: ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** `nsenter` arguments that run a command inside namespace `name`. */
export function enter(name: string): string[] {
  return [`--net=/run/netns/${name}`];
}

/**
 * Creates namespace `edge-px<random>` with `lo` up, runs `fn` with its name, and deletes it
 * (and with it every rule and address) in `finally`.
 */
export async function withNetns<T>(fn: (name: string) => Promise<T>): Promise<T> {
  const name = `edge-px${crypto.randomUUID().slice(0, 8)}`;
  await run("ip", ["netns", "add", name]);
  try {
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    return await fn(name);
  } finally {
    await run("ip", ["netns", "del", name]).catch(() => {});
  }
}
