/**
 * `Firewall`: where nft scripts go. {@linkcode NftFirewall} runs `nft -f -` (optionally inside
 * a network namespace through `nsenter`), {@linkcode FakeFirewall} records scripts for tests.
 *
 * @example
 * ```ts
 * const fw = new NftFirewall({ netns: "edge-t1-node" }); // or new NftFirewall() on the host
 * await fw.apply(renderFull(state));
 * ```
 *
 * @module
 */

import { renderRemove } from "./nft_render.ts";
import { PROXY_TABLE } from "./proxy_model.ts";

/** Applies nft scripts, each as one transaction. */
export interface Firewall {
  /** run `script` atomically; rejects (changing nothing) when nft refuses it */
  apply(script: string): Promise<void>;
  /** the proxy table as `nft list table` prints it */
  list?(): Promise<string>;
  /** delete the proxy table (no error when it is absent) */
  remove(): Promise<void>;
}

/** Options of {@linkcode NftFirewall}. */
export interface NftFirewallOptions {
  /** the nft binary (default `nft`) */
  nft?: string;
  /** run inside `/run/netns/<netns>` through `nsenter --net=…` */
  netns?: string;
  /** the table `list()` and `remove()` act on (default `edge-proxy`) */
  table?: string;
}

const NETNS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TABLE_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const MAX_STDERR = 4000;

/** The real thing: `nft -f -` with the script on stdin. */
export class NftFirewall implements Firewall {
  readonly #command: string;
  readonly #prefix: string[];
  readonly #table: string;

  constructor(options: NftFirewallOptions = {}) {
    const nft = options.nft ?? "nft";
    const table = options.table ?? PROXY_TABLE;
    if (!TABLE_RE.test(table)) throw new Error(`Cannot use nft table '${table}': invalid name`);
    this.#table = table;
    if (options.netns === undefined) {
      this.#command = nft;
      this.#prefix = [];
    } else {
      if (!NETNS_RE.test(options.netns)) {
        throw new Error(`Cannot enter network namespace '${options.netns}': invalid name`);
      }
      this.#command = "nsenter";
      this.#prefix = [`--net=/run/netns/${options.netns}`, nft];
    }
  }

  async apply(script: string): Promise<void> {
    await this.#run(["-f", "-"], script);
  }

  list(): Promise<string> {
    return this.#run(["list", "table", "ip", this.#table]);
  }

  async remove(): Promise<void> {
    await this.apply(renderRemove(this.#table));
  }

  async #run(args: string[], stdin?: string): Promise<string> {
    const child = new Deno.Command(this.#command, {
      args: [...this.#prefix, ...args],
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    let writeError: unknown;
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      try {
        await writer.write(new TextEncoder().encode(stdin));
      } catch (e) {
        writeError = e; // nft quit early; its exit status and stderr say why
      } finally {
        await writer.close().catch(() => {});
      }
    }
    const out = await output;
    if (!out.success) {
      let stderr = new TextDecoder().decode(out.stderr).trim();
      if (stderr.length > MAX_STDERR) stderr = `${stderr.slice(0, MAX_STDERR)}…`;
      throw new Error(`nft ${args.join(" ")} failed (exit ${out.code}): ${stderr}`);
    }
    if (writeError) throw writeError;
    return new TextDecoder().decode(out.stdout);
  }
}

/** Records scripts instead of running them; can be told to fail. */
export class FakeFirewall implements Firewall {
  /** every script applied, in order (failed ones included) */
  readonly scripts: string[] = [];
  /** how many times `remove()` ran */
  removed = 0;
  #failures: Error[] = [];

  /** make the next `apply()` reject with `error` (queue several by calling again) */
  failNext(error = new Error("nft: simulated failure")): void {
    this.#failures.push(error);
  }

  apply(script: string): Promise<void> {
    this.scripts.push(script);
    const failure = this.#failures.shift();
    return failure ? Promise.reject(failure) : Promise.resolve();
  }

  remove(): Promise<void> {
    this.removed++;
    return Promise.resolve();
  }
}
