/**
 * `ctl logs POD [-c CONTAINER] [-f] [--tail N] [--timestamps] [--previous] [--since 5m]`:
 * streams a container's log from the `pods/log` subresource, like `kubectl logs`.
 *
 * @module
 */

import { statusError } from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import { UsageError } from "./_args.ts";

/** Options of `ctl logs`. */
export interface LogsOptions {
  container?: string;
  follow: boolean;
  tail?: string;
  timestamps: boolean;
  previous: boolean;
  since?: string;
}

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** `5m`, `1h30m`, `45s` → seconds (kubectl's --since takes Go durations). */
export function sinceSeconds(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text === "") throw new UsageError(`invalid argument "${text}" for "--since" flag`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Print the log of one pod's container; returns the exit code. */
export async function logs(
  ctx: CommandContext,
  args: string[],
  opts: LogsOptions,
): Promise<number> {
  if (args.length !== 1) {
    throw new UsageError("expected exactly one pod name: ctl logs POD [-c CONTAINER]");
  }
  const name = args[0]!.replace(/^(pod|pods|po)\//, "");
  if (opts.tail !== undefined && !/^-?\d+$/.test(opts.tail)) {
    throw new UsageError(`invalid argument "${opts.tail}" for "--tail" flag`);
  }
  const query: Record<string, string | undefined> = {
    container: opts.container,
    follow: opts.follow ? "true" : undefined,
    tailLines: opts.tail !== undefined && Number(opts.tail) >= 0 ? opts.tail : undefined,
    timestamps: opts.timestamps ? "true" : undefined,
    previous: opts.previous ? "true" : undefined,
    sinceSeconds: opts.since !== undefined ? String(sinceSeconds(opts.since)) : undefined,
  };
  const path = `/api/v1/namespaces/${ctx.access.namespace}/pods/${encodeURIComponent(name)}/log`;
  const res = await ctx.client.send("GET", path, {
    query,
    accept: "*/*",
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (!res.ok) throw statusError(res.status, await res.text());
  if (!res.body) return 0;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body) ctx.out(decoder.decode(chunk, { stream: true }));
  } catch (err) {
    if (!ctx.signal?.aborted) throw err;
  }
  const rest = decoder.decode();
  if (rest) ctx.out(rest);
  return 0;
}
