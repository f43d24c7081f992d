/**
 * Liveness, readiness and startup probes of one pod's running containers, as kubelet's prober
 * workers: each probe of each container instance runs on the {@linkcode Clock}, first
 * `initialDelaySeconds` after the container started, then every `periodSeconds`, each try
 * bounded by `timeoutSeconds`. A result only flips after `successThreshold` successes or
 * `failureThreshold` failures in a row.
 *
 * - readiness starts false (true for a container without a readiness probe, once started);
 * - a startup probe gates the other two: they do not run until it has succeeded, and it stops
 *   once it has;
 * - a failed liveness (or startup) probe is reported through `livenessFailed` and the worker
 *   holds until a new instance of the container runs: the pod worker kills and restarts it.
 *
 * `exec` probes run through `runtime.exec`, `httpGet`/`tcpSocket` through `runtime.probe`,
 * with named ports resolved from the container's ports. `onChange` fires when any result
 * changes, so the pod worker re-syncs.
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";
import type { ContainerValue } from "../storage/kinds/_pod_spec.ts";
import type { ContainerRuntime, NetworkProbe, ProbeOutcome } from "./runtime.ts";

/** What pod status needs from the probes. */
export interface ProbeResults {
  /** the container's running instance passed its readiness probe (and startup) */
  ready(container: string): boolean;
  /** the container's running instance passed its startup probe (or has none) */
  started(container: string): boolean;
}

/** A running container instance to probe. */
export interface ProbedContainer {
  spec: ContainerValue;
  /** runtime id of the instance */
  id: string;
  /** when it started, milliseconds since the epoch */
  startedAt: number;
}

/** How a {@linkcode PodProbes} reaches the containers and reports changes. */
export interface PodProbesOptions {
  runtime: ContainerRuntime;
  clock: Clock;
  podUid: string;
  /** called whenever a readiness, startup or liveness result changes */
  onChange: () => void;
  /**
   * called when a probe has failed `failureThreshold` times in a row, with the last attempt's
   * message (once per run of failures)
   */
  onFailure?: (container: string, type: ProbeType, message: string) => void;
}

/** Which probe of a container. */
export type ProbeType = "liveness" | "readiness" | "startup";
type Probe = NonNullable<ContainerValue["livenessProbe"]>;

interface Worker {
  type: ProbeType;
  probe: Probe;
  container: ProbedContainer;
  abort: AbortController;
  /** the reported result: liveness starts true, readiness and startup false */
  result: boolean;
  lastResult: boolean | undefined;
  run: number;
}

interface Instance {
  id: string;
  workers: Map<ProbeType, Worker>;
  /** why the liveness or startup probe failed, once it has */
  failure?: { type: "liveness" | "startup"; message: string };
}

/** The probe workers of one pod. */
export class PodProbes implements ProbeResults {
  readonly #options: PodProbesOptions;
  readonly #instances = new Map<string, Instance>();

  constructor(options: PodProbesOptions) {
    this.#options = options;
  }

  /**
   * Probe exactly these running containers: new instances get workers, instances no longer
   * listed (stopped or replaced) lose theirs and their results.
   */
  update(running: readonly ProbedContainer[]): void {
    const names = new Set(running.map((c) => c.spec.name));
    for (const [name, instance] of this.#instances) {
      if (!names.has(name)) this.#drop(name, instance);
    }
    for (const c of running) {
      const current = this.#instances.get(c.spec.name);
      if (current?.id === c.id) continue;
      if (current) this.#drop(c.spec.name, current);
      const instance: Instance = { id: c.id, workers: new Map() };
      this.#instances.set(c.spec.name, instance);
      const probes: Array<[ProbeType, Probe | undefined]> = [
        ["startup", c.spec.startupProbe],
        ["liveness", c.spec.livenessProbe],
        ["readiness", c.spec.readinessProbe],
      ];
      for (const [type, probe] of probes) {
        if (!probe) continue;
        const worker: Worker = {
          type,
          probe,
          container: c,
          abort: new AbortController(),
          result: type === "liveness",
          lastResult: undefined,
          run: 0,
        };
        instance.workers.set(type, worker);
        this.#loop(instance, worker);
      }
    }
  }

  /** See {@linkcode ProbeResults.ready}. */
  ready(container: string): boolean {
    const instance = this.#instances.get(container);
    if (!instance || !this.started(container)) return false;
    return instance.workers.get("readiness")?.result ?? true;
  }

  /** See {@linkcode ProbeResults.started}. */
  started(container: string): boolean {
    const instance = this.#instances.get(container);
    if (!instance) return false;
    return instance.workers.get("startup")?.result ?? true;
  }

  /** Whether the running instance failed its liveness or startup probe and must be killed. */
  livenessFailed(container: string): boolean {
    return this.#instances.get(container)?.failure !== undefined;
  }

  /** Why the running instance failed its liveness or startup probe, if it did. */
  failure(container: string): { type: "liveness" | "startup"; message: string } | undefined {
    return this.#instances.get(container)?.failure;
  }

  /** Stop every worker. */
  stop(): void {
    for (const [name, instance] of this.#instances) this.#drop(name, instance);
  }

  #drop(name: string, instance: Instance): void {
    for (const w of instance.workers.values()) w.abort.abort();
    this.#instances.delete(name);
  }

  async #loop(instance: Instance, w: Worker): Promise<void> {
    const { clock } = this.#options;
    const signal = w.abort.signal;
    let at = w.container.startedAt + (w.probe.initialDelaySeconds ?? 0) * 1000;
    while (!signal.aborted) {
      const wait = at - clock.now();
      if (wait > 0) await clock.sleep(wait, signal);
      if (signal.aborted) return;
      at = Math.max(at, clock.now()) + w.probe.periodSeconds * 1000;
      if (w.type !== "startup" && !this.#startedIn(instance)) continue;
      const outcome = await this.#probe(w);
      if (signal.aborted) return;
      if (!this.#record(instance, w, outcome)) return;
    }
  }

  #startedIn(instance: Instance): boolean {
    return instance.workers.get("startup")?.result ?? true;
  }

  /** Apply one outcome; false when the worker is done (startup passed, or holding on failure). */
  #record(instance: Instance, w: Worker, outcome: ProbeOutcome): boolean {
    const result = outcome.success;
    if (w.lastResult === result) w.run++;
    else {
      w.lastResult = result;
      w.run = 1;
    }
    const threshold = result ? w.probe.successThreshold : w.probe.failureThreshold;
    if (w.run < threshold) return true;
    if (!result && w.run === threshold) {
      this.#options.onFailure?.(w.container.spec.name, w.type, outcome.message);
    }
    const changed = w.result !== result;
    w.result = result;
    if (!result && w.type !== "readiness") {
      instance.failure = {
        type: w.type === "startup" ? "startup" : "liveness",
        message: outcome.message,
      };
      this.#options.onChange();
      return false;
    }
    if (changed) this.#options.onChange();
    return !(w.type === "startup" && result);
  }

  async #probe(w: Worker): Promise<ProbeOutcome> {
    const { runtime, podUid } = this.#options;
    const timeoutMs = w.probe.timeoutSeconds * 1000;
    try {
      if (w.probe.exec) {
        return await runtime.exec(w.container.id, w.probe.exec.command ?? [], timeoutMs);
      }
      const network = networkProbe(w.probe, w.container.spec);
      if (typeof network === "string") return { success: false, message: network };
      return await runtime.probe(podUid, network, timeoutMs);
    } catch (e) {
      return { success: false, message: e instanceof Error ? e.message : String(e) };
    }
  }
}

/** The port a probe names: a number, or a container port's name. */
function resolvePort(port: number | string, container: ContainerValue): number | undefined {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  if (named) return named.containerPort;
  const n = Number(port);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The runtime form of an httpGet/tcpSocket probe, or why it cannot run. */
function networkProbe(probe: Probe, container: ContainerValue): NetworkProbe | string {
  const action = probe.httpGet ?? probe.tcpSocket;
  if (!action) return "probe has no supported handler (exec, httpGet, tcpSocket)";
  const port = resolvePort(action.port, container);
  if (port === undefined) {
    return `couldn't find port ${String(action.port)} in container ${container.name}`;
  }
  const host = action.host ? { host: action.host } : {};
  if (!probe.httpGet) return { kind: "tcp", port, ...host };
  return {
    kind: "http",
    port,
    path: probe.httpGet.path,
    scheme: probe.httpGet.scheme,
    headers: probe.httpGet.httpHeaders ?? [],
    ...host,
  };
}
