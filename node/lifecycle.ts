/**
 * Container lifecycle hooks (`lifecycle.postStart`, `lifecycle.preStop`), run as kubelet's
 * `HandlerRunner` does: `exec` in the container, `httpGet` against the pod from inside its
 * network namespace, `sleep` in the agent. A failure comes back as kubelet's message, for the
 * `FailedPostStartHook` / `FailedPreStopHook` Event.
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";
import type { ContainerValue } from "../storage/kinds/_pod_spec.ts";
import type { ContainerRuntime } from "./runtime.ts";

/** Which hook. */
export type HookName = "postStart" | "preStop";

/** What a hook runs against. */
export interface HookTarget {
  runtime: ContainerRuntime;
  clock: Clock;
  podUid: string;
  /** `name_namespace(uid)`, as kubelet names the pod in its messages */
  podName: string;
  container: ContainerValue;
  containerId: string;
}

/**
 * Run `container`'s `hook`, if it has one, for at most `timeoutMs`; resolves undefined when
 * it succeeded (or there is none), else kubelet's message for the failure Event.
 */
export async function runHook(
  target: HookTarget,
  hook: HookName,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { runtime, container: c } = target;
  const handler = c.lifecycle?.[hook];
  if (!handler) return undefined;
  const where = `for Container "${c.name}" in Pod "${target.podName}"`;
  try {
    if (handler.exec) {
      const command = handler.exec.command ?? [];
      const out = await runtime.exec(target.containerId, command, timeoutMs);
      if (out.success) return undefined;
      return `Exec lifecycle hook (${goList(command)}) ${where} failed - error: ${out.message}`;
    }
    if (handler.httpGet) {
      const get = handler.httpGet;
      const path = get.path ?? "/";
      const failed = (error: string) =>
        `HTTP lifecycle hook (${path}) ${where} failed - error: ${error}`;
      const port = typeof get.port === "number"
        ? get.port
        : c.ports?.find((p) => p.name === get.port)?.containerPort;
      if (port === undefined) return failed(`couldn't find port ${get.port}`);
      const out = await runtime.probe(target.podUid, {
        kind: "http",
        port,
        path,
        scheme: get.scheme === "HTTPS" ? "HTTPS" : "HTTP",
        headers: get.httpHeaders ?? [],
        ...(get.host ? { host: get.host } : {}),
      }, timeoutMs);
      return out.success ? undefined : failed(out.message);
    }
    if (handler.sleep) {
      await target.clock.sleep(Math.min(handler.sleep.seconds * 1000, timeoutMs), signal);
      return undefined;
    }
    return `${hook} hook ${where} failed - error: tcpSocket is not supported as a lifecycle handler`;
  } catch (e) {
    return `${hook} hook ${where} failed - error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function goList(items: readonly string[]): string {
  return `[${items.join(" ")}]`;
}
