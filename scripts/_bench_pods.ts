/**
 * Pod start latency, three ways, for the benchmark: one pod of two `sleep 3600` containers of
 * the test image, started
 * - through our API (`POST` the Pod; the scheduler binds it and an agent runs it on podman),
 *   timed from the POST to the watch event that shows every container running;
 * - with raw podman (`pod create` + `run -d` twice), timed until both containers run;
 * - with `podman kube play` of the same Pod manifest, timed until the containers run.
 *
 * Each start cleans up after itself (not timed): the Pod is deleted with gracePeriodSeconds 0
 * and the start waits until its podman pod is gone. Every podman call uses the containers.conf
 * the agent uses, and every wait is bounded. Also here: a separate `mod.ts agent` process whose
 * memory the benchmark reads.
 *
 * @module
 */

import { stringify as toYaml } from "yaml";
import { CONTAINERS_CONF } from "../node/podman_runtime.ts";
import { LABELS } from "../node/runtime.ts";
import { AGENT_DENO_FLAGS } from "../mod.ts";
import { type Endpoint, httpRequest, ROOT, run, sleep } from "../tests/_harness.ts";

/** The image every start runs (built by `scripts/build_test_image.sh`). */
export const IMAGE = "localhost/edge-test:1";
const COMMAND = ["sleep", "3600"];
const CONTAINERS = ["a", "b"];

/** Upper bound for one podman command. */
const PODMAN_TIMEOUT_MS = 60_000;
/** How often podman is asked whether containers run (usually true at the first look). */
const RUNNING_POLL_MS = 50;
/** How often podman is asked whether a pod is gone (untimed; rarer, to leave the CPU be). */
const GONE_POLL_MS = 200;

/** The Pod every start runs, as a Kubernetes manifest. */
export function benchPod(name: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: CONTAINERS.map((c) => ({
        name: c,
        image: IMAGE,
        imagePullPolicy: "Never",
        command: COMMAND,
      })),
    },
  };
}

/** podman with a containers.conf, as the agent runs it. */
export class Podman {
  constructor(readonly configPath: string) {}

  /** Writes {@linkcode CONTAINERS_CONF} into `dir` and returns a Podman that uses it. */
  static async inDir(dir: string): Promise<Podman> {
    const path = `${dir}/containers.conf`;
    await Deno.writeTextFile(path, CONTAINERS_CONF);
    return new Podman(path);
  }

  /** Runs `podman ARGS`; throws with podman's stderr on a non-zero exit. */
  async ok(args: string[]): Promise<string> {
    const result = await run("podman", args, {
      env: { CONTAINERS_CONF: this.configPath },
      timeoutMs: PODMAN_TIMEOUT_MS,
    });
    if (result.code !== 0) {
      throw new Error(`podman ${args.join(" ")} -> exit ${result.code}: ${result.stderr.trim()}`);
    }
    return result.stdout;
  }

  /** Ids of the podman pods matching one `--filter`. */
  async pods(filter: string): Promise<string[]> {
    const out = await this.ok(["pod", "ps", "--quiet", "--filter", filter]);
    return out.split("\n").map((line) => line.trim()).filter((id) => id !== "");
  }

  /** Removes the podman pods matching `filter` at once (no grace); returns how many. */
  async removePods(filter: string): Promise<number> {
    const ids = await this.pods(filter);
    if (ids.length > 0) await this.ok(["pod", "rm", "--force", "--ignore", "--time", "0", ...ids]);
    return ids.length;
  }

  /** Removes the networks matching `filter` (a `podman network ls --filter`); how many. */
  async removeNetworks(filter: string): Promise<number> {
    const ids = (await this.ok(["network", "ls", "--quiet", "--filter", filter]))
      .split("\n").map((id) => id.trim()).filter((id) => id !== "");
    if (ids.length > 0) await this.ok(["network", "rm", "--force", ...ids]);
    return ids.length;
  }

  /** Waits until every named container runs; throws after `timeoutMs`. */
  async waitRunning(containers: string[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    while (true) {
      last = await this.ok([
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.State.Running}}",
        ...containers,
      ]);
      if (last.trim().split("\n").every((line) => line.trim() === "true")) return;
      if (performance.now() > deadline) break;
      await sleep(RUNNING_POLL_MS);
    }
    throw new Error(
      `containers ${containers.join(", ")} not running within ${timeoutMs} ms: ${last.trim()}`,
    );
  }

  /** Waits until no podman pod matches `filter`; throws after `timeoutMs`. */
  async waitGone(filter: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while ((await this.pods(filter)).length > 0) {
      if (performance.now() > deadline) {
        throw new Error(`podman pod (${filter}) still there after ${timeoutMs} ms`);
      }
      await sleep(GONE_POLL_MS);
    }
  }
}

/** One way of starting the benchmark pod: `start` returns the measured milliseconds. */
export interface StartMethod {
  readonly label: string;
  start(name: string): Promise<number>;
}

/** Shape of the Pod fields the API start looks at. */
interface PodView {
  metadata?: { uid?: string; name?: string };
  status?: { containerStatuses?: Array<{ state?: { running?: unknown } }> };
}

function allRunning(pod: PodView | undefined): boolean {
  const statuses = pod?.status?.containerStatuses ?? [];
  return statuses.length === CONTAINERS.length && statuses.every((s) => s.state?.running);
}

/**
 * Reads a watch stream until a non-DELETED event's object satisfies `done`; resolves with the
 * time the chunk carrying that event arrived. Rejects if the stream ends first or reports an
 * ERROR.
 */
export function watchUntil<T>(
  body: ReadableStream<Uint8Array>,
  done: (obj: T) => boolean,
): Promise<number> {
  return watchEvent<T>(body, (type, obj) => type !== "DELETED" && done(obj));
}

/** As {@linkcode watchUntil}, for any event `match` accepts (its type and object). */
export async function watchEvent<T>(
  body: ReadableStream<Uint8Array>,
  match: (type: string, obj: T) => boolean,
): Promise<number> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    while (true) {
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error("the watch ended first");
      const now = performance.now();
      pending += decoder.decode(value, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
        if (line === "") continue;
        const event = JSON.parse(line) as { type?: string; object?: T };
        if (event.type === "ERROR") throw new Error(`watch error: ${line.slice(0, 300)}`);
        if (event.type && event.object && match(event.type, event.object)) return now;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Options of {@linkcode apiStart}. */
export interface ApiStartOptions {
  label: string;
  endpoint: Endpoint;
  namespace: string;
  podman: Podman;
  /** bound on one start, and on one clean-up */
  timeoutMs: number;
  /** the pod to POST (default: the benchmark's two-container pod) */
  pod?: (name: string) => unknown;
  /** more to POST first, timed too (e.g. the pod's claim) */
  before?: (name: string) => Promise<void>;
  /** told of each pod whose containers ran */
  onRunning?: (name: string) => void;
}

/**
 * Starts the pod through the API: a watch on the pod's name is open before the POST, and the
 * time runs from the POST (of `before`'s objects, if any) to the event that shows every
 * container running.
 */
export function apiStart(options: ApiStartOptions): StartMethod {
  const { endpoint, namespace, timeoutMs } = options;
  const base = `/api/v1/namespaces/${namespace}/pods`;
  return {
    label: options.label,
    async start(name) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      let uid: string | undefined;
      try {
        const watch = await fetch(
          `${endpoint.url}${base}?watch=1&fieldSelector=${
            encodeURIComponent(`metadata.name=${name}`)
          }`,
          {
            headers: { authorization: `Bearer ${endpoint.token}` },
            signal: abort.signal,
            client: endpoint.client,
          },
        );
        if (watch.status !== 200 || !watch.body) {
          throw new Error(`watch ${base} -> ${watch.status} ${(await watch.text()).slice(0, 300)}`);
        }
        const started = performance.now();
        const running = watchUntil(watch.body, allRunning);
        // Not awaited before the POST: a failed POST must not leave this rejection unhandled.
        running.catch(() => {});
        await options.before?.(name);
        const created = await httpRequest(
          endpoint,
          "POST",
          base,
          (options.pod ?? benchPod)(name),
        );
        if (created.status !== 201) {
          throw new Error(`POST ${base} -> ${created.status} ${created.text.slice(0, 300)}`);
        }
        uid = (created.json as PodView).metadata?.uid;
        const at = await running.catch((error) => {
          throw abort.signal.aborted
            ? new Error(`pod ${name}: containers not running within ${timeoutMs} ms`)
            : error;
        });
        options.onRunning?.(name);
        return at - started;
      } finally {
        clearTimeout(timer);
        abort.abort();
        await deleteApiPod(options, name, uid);
      }
    },
  };
}

/** Deletes the pod at once and waits until the agent has removed its podman pod. */
async function deleteApiPod(options: ApiStartOptions, name: string, uid?: string): Promise<void> {
  const path = `/api/v1/namespaces/${options.namespace}/pods/${name}?gracePeriodSeconds=0`;
  const deleted = await httpRequest(options.endpoint, "DELETE", path);
  if (deleted.status !== 200 && deleted.status !== 202 && deleted.status !== 404) {
    throw new Error(`DELETE ${path} -> ${deleted.status} ${deleted.text.slice(0, 300)}`);
  }
  if (uid) await options.podman.waitGone(`label=${LABELS.podUid}=${uid}`, options.timeoutMs);
}

/**
 * Raw podman: `pod create`, then `run -d` for each container; timed until both have returned
 * and `podman inspect` reports the containers running. Removed with `pod rm -f -t 0` after.
 */
export function rawPodmanStart(label: string, podman: Podman, timeoutMs: number): StartMethod {
  return {
    label,
    async start(name) {
      const containers = CONTAINERS.map((c) => `${name}-${c}`);
      try {
        const started = performance.now();
        await podman.ok(["pod", "create", "--name", name]);
        for (const container of containers) {
          await podman.ok([
            "run",
            "--detach",
            "--pod",
            name,
            "--name",
            container,
            "--pull",
            "never",
            IMAGE,
            ...COMMAND,
          ]);
        }
        await podman.waitRunning(containers, timeoutMs);
        return performance.now() - started;
      } finally {
        await podman.removePods(`name=^${name}$`);
      }
    },
  };
}

/**
 * `podman kube play` of the same Pod manifest (written to a file first, untimed); timed until
 * the command returns and `podman inspect` reports the containers running. Removed with
 * `pod rm -f -t 0` after (`kube down` would stop the containers with a 10 s grace period).
 *
 * kube play confines containers with podman's default seccomp profile; Kubernetes (and our
 * agent) runs a pod that names no profile Unconfined. `unconfined` adds the annotation kube
 * play reads (`seccomp.security.alpha.kubernetes.io/pod: unconfined`), for a like-for-like row.
 */
export function kubePlayStart(
  label: string,
  podman: Podman,
  dir: string,
  timeoutMs: number,
  unconfined = false,
): StartMethod {
  return {
    label,
    async start(name) {
      const file = `${dir}/${name}.yaml`;
      const pod = benchPod(name) as { metadata: Record<string, unknown> };
      if (unconfined) {
        pod.metadata.annotations = { "seccomp.security.alpha.kubernetes.io/pod": "unconfined" };
      }
      await Deno.writeTextFile(file, toYaml(pod));
      try {
        const started = performance.now();
        await podman.ok(["kube", "play", file]);
        await podman.waitRunning(CONTAINERS.map((c) => `${name}-${c}`), timeoutMs);
        return performance.now() - started;
      } finally {
        await podman.removePods(`name=^${name}$`);
        await Deno.remove(file);
      }
    },
  };
}

/** What {@linkcode benchPodStarts} measured for one method. */
export interface StartResult {
  label: string;
  latenciesMs: number[];
  /** the first failure, for the report */
  firstFailure?: string;
}

/** Options of {@linkcode benchPodStarts}. */
export interface PodStartOptions {
  /** measured starts per method */
  count: number;
  /** unmeasured starts per method first */
  warmup: number;
  /** stop starting new rounds after this long */
  maxMs: number;
  /** pod names are `<prefix>-<method index>-<round>` */
  namePrefix: string;
  log: (message: string) => void;
}

/**
 * Runs the methods side by side: round by round, each method starts one pod (which it removes
 * before the next start), the order rotating per round so no method always goes first. A
 * method that fails stops being run; its first failure is reported.
 */
export async function benchPodStarts(
  methods: readonly StartMethod[],
  options: PodStartOptions,
): Promise<StartResult[]> {
  const results = methods.map((m): StartResult => ({ label: m.label, latenciesMs: [] }));
  const deadline = performance.now() + options.maxMs;
  const rounds = options.warmup + options.count;
  for (let round = 0; round < rounds && performance.now() < deadline; round++) {
    for (let k = 0; k < methods.length; k++) {
      const index = (round + k) % methods.length;
      const method = methods[index]!;
      const result = results[index]!;
      if (result.firstFailure) continue;
      try {
        const ms = await method.start(`${options.namePrefix}-${index}-${round}`);
        if (round >= options.warmup) result.latenciesMs.push(ms);
      } catch (error) {
        result.firstFailure = `${method.label}, round ${round}: ${error}`;
        options.log(result.firstFailure);
      }
    }
    if (round % 5 === 4) options.log(`pod starts: ${round + 1}/${rounds} rounds`);
  }
  return results;
}

/** A `mod.ts agent` process joining a running control plane. */
export interface AgentProcess {
  readonly pid: number;
  readonly nodeName: string;
  /** the tail of what it printed on stderr */
  stderr(): string;
  /** the tail of what it printed on stdout */
  stdout(): string;
  /** SIGTERM, then SIGKILL after 10 s; removes its data dir. Its pods keep running. */
  stop(): Promise<void>;
}

/**
 * Starts `mod.ts agent` against `server` with its own data dir under `dir`, and waits (at most
 * 60 s) for its "edge agent: running" line.
 */
export async function startAgentProcess(options: {
  server: string;
  token: string;
  caFile: string;
  nodeName: string;
  dataDir: string;
  /** the deno executable to run it with (default: this one) */
  deno?: string;
}): Promise<AgentProcess> {
  const child = new Deno.Command(options.deno ?? Deno.execPath(), {
    args: [
      "run",
      ...AGENT_DENO_FLAGS,
      "mod.ts",
      "agent",
      "--server",
      options.server,
      "--token",
      options.token,
      "--ca-file",
      options.caFile,
      "--node-name",
      options.nodeName,
      "--node-ip",
      "127.0.0.1",
      "--agent-listen",
      "127.0.0.1:0",
      "--data-dir",
      options.dataDir,
    ],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const ready = Promise.withResolvers<void>();
  const decode = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  const drained = Promise.all([
    decode(child.stdout, (text) => {
      stdout = (stdout + text).slice(-8_000);
      if (stdout.includes("edge agent: running")) ready.resolve();
    }),
    decode(child.stderr, (text) => stderr = (stderr + text).slice(-8_000)),
  ]);
  const status = child.status.then((s) => {
    ready.reject(new Error(`mod.ts agent exited with code ${s.code}\n${stderr}`));
    return s;
  });
  ready.promise.catch(() => {});

  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited in the meantime
      }
    }
    await status;
    await drained;
    // the agent ran in this namespace: take its nftables table and routes away again
    await new Deno.Command(Deno.execPath(), {
      args: ["run", ...AGENT_DENO_FLAGS, "mod.ts", "agent", "--cleanup"],
      cwd: ROOT,
      stdout: "null",
      stderr: "inherit",
    }).output();
    await Deno.remove(options.dataDir, { recursive: true }).catch(() => {});
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      ready.promise,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error(`mod.ts agent printed no ready line within 60 s\n${stderr}`)),
          60_000,
        )
      ),
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    pid: child.pid,
    nodeName: options.nodeName,
    stderr: () => stderr,
    stdout: () => stdout,
    stop,
  };
}

/** Waits (bounded) until the Node reports Ready, so pods can be scheduled onto it. */
export async function waitNodeReady(
  endpoint: Endpoint,
  nodeName: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = "";
  while (performance.now() < deadline) {
    const response = await httpRequest(endpoint, "GET", `/api/v1/nodes/${nodeName}`);
    last = `${response.status}`;
    const node = response.json as {
      status?: { conditions?: Array<{ type: string; status: string }> };
    };
    if (
      response.status === 200 &&
      node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
    ) return;
    await sleep(200);
  }
  throw new Error(`node ${nodeName} not Ready within ${timeoutMs} ms (last GET: ${last})`);
}
