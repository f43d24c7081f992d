/**
 * Integration-test harness: a real `mod.ts up` on 127.0.0.1 in a fresh temp data dir, and
 * helpers to drive it with stock `kubectl`, our `ctl`, and raw HTTP.
 *
 * Every child process is bounded by a timeout and every stream is drained, so tests can keep
 * Deno's resource and op sanitizers on as long as they stop the cluster before returning.
 *
 * @example
 * ```ts
 * Deno.test("kubectl get ns lists default", async () => {
 *   await using cluster = await startCluster();
 *   const { stdout } = await cluster.kubectl(["get", "ns"]);
 *   assert.match(stdout, /^default\s/m);
 * });
 * ```
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { randomClusterCidr } from "./_netns.ts";

/** The repository root (where `mod.ts` lives). */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Stock kubectl, the compatibility client. */
export const KUBECTL = "/usr/bin/kubectl";

/** How long the server may take to print its ready line. */
const READY_TIMEOUT_MS = 60_000;
/** How long a stopped server may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Upper bound for one kubectl or ctl invocation. */
const COMMAND_TIMEOUT_MS = 60_000;
/** Upper bound for one HTTP request made with {@linkcode httpRequest}, body included. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How much of a server's stdout/stderr is kept for error messages. */
const LOG_TAIL_CHARS = 16_000;

/** Whether stock kubectl is installed; kubectl tests skip (with a printed reason) when not. */
export const hasKubectl: boolean = (() => {
  try {
    return Deno.statSync(KUBECTL).isFile;
  } catch {
    return false;
  }
})();

/** The outcome of one finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The outcome of one HTTP request; the body is always fully read. */
export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** the body parsed as JSON, or `undefined` when it is not JSON */
  json: unknown;
}

/** A long-running child (e.g. `kubectl get -w`) whose stdout is read as it arrives. */
export interface StreamingCommand {
  /** everything printed on stdout so far */
  readonly stdout: string;
  /** everything printed on stderr so far */
  readonly stderr: string;
  /**
   * Resolves once `pattern` matches stdout; rejects after `timeoutMs` (with what was printed)
   * or when the process exits first.
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Kills the process (SIGTERM) and waits for it and its streams to end. */
  stop(): Promise<CommandResult>;
}

/** A running control plane. */
export interface Cluster {
  /** e.g. `https://127.0.0.1:41234` (or `http://` when the server has no TLS) */
  readonly url: string;
  /** url, token and the HTTP client that trusts the cluster CA, for `fetch` */
  readonly endpoint: Endpoint;
  /** the admin bearer token from the kubeconfig */
  readonly token: string;
  readonly kubeconfigPath: string;
  readonly dataDir: string;
  /** the Node name of the local agent (`up` mode) */
  readonly nodeName: string;
  /** the server's process id */
  readonly pid: number;
  /** Runs `/usr/bin/kubectl ARGS` with `KUBECONFIG` set to this cluster. */
  kubectl(args: string[], options?: { stdin?: string }): Promise<CommandResult>;
  /** Starts `kubectl ARGS` and lets the caller read its stdout incrementally. */
  spawnKubectl(args: string[]): StreamingCommand;
  /** Runs `deno run mod.ts ctl ARGS --kubeconfig PATH`. */
  ctl(args: string[], options?: { stdin?: string }): Promise<CommandResult>;
  /** Starts `mod.ts ctl ARGS --kubeconfig PATH` and lets the caller read its stdout incrementally. */
  spawnCtl(args: string[]): StreamingCommand;
  /**
   * Sends one authenticated request to the server. A string or byte body is sent as is; any
   * other body is sent as JSON. `headers` override the defaults (set `authorization` to `""`
   * to send none).
   */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  /** What the server printed so far (tails), for assertion messages. */
  logs(): { stdout: string; stderr: string };
  /** Stops the server and restarts it on the same data dir and port. */
  restart(): Promise<void>;
  /** SIGTERM, waits for exit (SIGKILL after 10 s), and removes the temp directory. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@linkcode startCluster}. */
export interface ClusterOptions {
  /** `up` (default: control plane + local agent) or `server` (control plane only) */
  mode?: "up" | "server";
  /** more flags for `up`'s agent, e.g. `["--allowed-unsafe-sysctls", "kernel.msg*"]` */
  agentArgs?: string[];
}

/** Keeps the last `limit` characters of what is appended. */
class Tail {
  #text = "";
  constructor(readonly limit: number) {}
  append(s: string): void {
    this.#text = (this.#text + s).slice(-this.limit);
  }
  toString(): string {
    return this.#text;
  }
}

/** Reads a byte stream as text, calling `onText` per chunk; resolves at end of stream. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  onText: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  const rest = decoder.decode();
  if (rest !== "") onText(rest);
}

/** Runs a command to completion with a hard time limit; never rejects on a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, timeoutMs);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      try {
        await writer.write(new TextEncoder().encode(options.stdin));
        await writer.close();
      } catch {
        // the command exited without reading all of its input; its output says why
      }
    }
    const output = await child.output();
    const result = {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
    if (output.signal === "SIGKILL") {
      result.stderr += `\n[harness] ${cmd} ${args.join(" ")} killed after ${timeoutMs} ms`;
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts a child whose stdout can be awaited for a pattern; see {@linkcode StreamingCommand}. */
export function spawnStreaming(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): StreamingCommand {
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const drained = Promise.all([
    drain(child.stdout, (text) => {
      stdout += text;
      notify();
    }),
    drain(child.stderr, (text) => {
      stderr += text;
    }),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    notify();
    return s;
  });

  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stdout.match(pattern);
          if (match) return done(() => resolve(match));
          if (exited) {
            done(() =>
              reject(
                new Error(
                  `${cmd} ${args.join(" ")} exited before printing ${pattern}\n` +
                    `stdout:\n${stdout}\nstderr:\n${stderr}`,
                ),
              )
            );
          }
        };
        const timer = setTimeout(() =>
          done(() =>
            reject(
              new Error(
                `${cmd} ${args.join(" ")} did not print ${pattern} within ${timeoutMs} ms\n` +
                  `stdout:\n${stdout}\nstderr:\n${stderr}`,
              ),
            )
          ), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
      }
      const s = await status;
      await drained;
      return { code: s.code, stdout, stderr };
    },
  };
}

/** Adds the admin token unless the caller sets `authorization` itself. */
function buildRequest(
  token: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): RequestInit {
  const merged = new Headers({ authorization: `Bearer ${token}`, accept: "application/json" });
  let payload: BodyInit | undefined;
  if (typeof body === "string" || body instanceof Uint8Array) {
    payload = body as BodyInit;
    merged.set("content-type", "application/json");
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    merged.set("content-type", "application/json");
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === "") merged.delete(name);
    else merged.set(name, value);
  }
  return { method, headers: merged, body: payload };
}

/** Where a server is and how to reach it: its URL, the admin token, and the TLS client. */
export interface Endpoint {
  url: string;
  token: string;
  /** trusts the cluster's CA; present when the server speaks https */
  client?: Deno.HttpClient;
  /** the cluster's CA certificate (PEM), for callers that need clients of their own */
  caPem?: string;
}

/** Sends a request and reads the whole body. */
export async function httpRequest(
  endpoint: Endpoint,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const init = buildRequest(endpoint.token, method, body, headers);
  const response = await fetch(endpoint.url + path, {
    ...init,
    client: endpoint.client,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** One running server process, with its output captured. */
interface ServerProcess {
  child: Deno.ChildProcess;
  url: string;
  stdout: Tail;
  stderr: Tail;
  /** resolves when the process has exited and both streams are drained */
  finished: Promise<Deno.CommandStatus>;
}

/**
 * Servers started and not yet stopped. If the test process is interrupted (Ctrl-C, or the
 * test command is stopped), they are stopped too instead of living on as orphans.
 */
const liveServers = new Set<Deno.ChildProcess>();
const INTERRUPTS = ["SIGINT", "SIGTERM"] as const;

function onInterrupt(): void {
  for (const child of liveServers) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
  }
  Deno.exit(130);
}

function track(child: Deno.ChildProcess): void {
  if (liveServers.size === 0) {
    for (const signal of INTERRUPTS) Deno.addSignalListener(signal, onInterrupt);
  }
  liveServers.add(child);
}

function untrack(child: Deno.ChildProcess): void {
  if (!liveServers.delete(child) || liveServers.size > 0) return;
  for (const signal of INTERRUPTS) Deno.removeSignalListener(signal, onInterrupt);
}

async function spawnServer(
  mode: "up" | "server",
  dataDir: string,
  listen: string,
  nodeName: string,
  extraAgentArgs: string[] = [],
): Promise<ServerProcess> {
  // Each test cluster's agent gets its own node name (agents sweep sandboxes by node label, so
  // clusters sharing this machine's podman must not share one) and stays on loopback.
  const agentArgs = mode === "up"
    ? [
      "--node-name",
      nodeName,
      "--node-ip",
      "127.0.0.1",
      "--agent-listen",
      "127.0.0.1:0",
      // the pod network's bridge is in this namespace: a subnet of its own per test cluster
      "--cluster-cidr",
      randomClusterCidr(),
      // service rules and DNS are tested inside network namespaces (tests/_multinode.ts),
      // never in the host's
      "--disable-service-proxy",
      ...extraAgentArgs,
    ]
    : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "mod.ts",
      mode,
      "--data-dir",
      dataDir,
      "--listen",
      listen,
      "--cluster-dns-listen",
      "off",
      ...agentArgs,
    ],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  track(child);
  const stdout = new Tail(LOG_TAIL_CHARS);
  const stderr = new Tail(LOG_TAIL_CHARS);

  let resolveReady: (url: string) => void = () => {};
  const ready = new Promise<string>((resolve) => resolveReady = resolve);
  let beforeReady = "";
  let isReady = false;
  const drained = Promise.all([
    drain(child.stdout, (text) => {
      stdout.append(text);
      if (isReady) return;
      beforeReady += text;
      const match = /ready at (https?:\/\/[^\s)]+)/.exec(beforeReady);
      if (match?.[1]) {
        isReady = true;
        resolveReady(match[1]);
      }
    }),
    drain(child.stderr, (text) => stderr.append(text)),
  ]);
  const finished = (async () => {
    const status = await child.status;
    await drained;
    untrack(child);
    return status;
  })();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.then((url) => ({ url })),
    finished.then((status) => ({ exited: status })),
    new Promise<{ timeout: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), READY_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);

  if ("url" in outcome) {
    return { child, url: outcome.url.replace(/\/$/, ""), stdout, stderr, finished };
  }

  const why = "exited" in outcome
    ? `exited with code ${outcome.exited.code} before printing its ready line`
    : `printed no ready line within ${READY_TIMEOUT_MS / 1000} s`;
  if (!("exited" in outcome)) {
    child.kill("SIGKILL");
    await finished;
  }
  throw new Error(
    `mod.ts ${mode} --data-dir ${dataDir} --listen ${listen} ${why}\n` +
      `--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`,
  );
}

async function stopServer(server: ServerProcess): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    server.finished.then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)),
  ]);
  clearTimeout(timer);
  if (!exited) {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // exited in the meantime
    }
    await server.finished;
  }
}

/** Removes the podman pods and networks of the agent named `nodeName` (its node label). */
async function removeNodePods(nodeName: string): Promise<void> {
  const listed = await run("podman", [
    "pod",
    "ps",
    "--quiet",
    "--filter",
    `label=io.edge.node=${nodeName}`,
  ], { timeoutMs: 60_000 }).catch(() => undefined);
  const ids = listed?.stdout.split("\n").map((id) => id.trim()).filter((id) => id !== "") ?? [];
  if (ids.length > 0) {
    await run("podman", ["pod", "rm", "--force", "--time", "0", ...ids], { timeoutMs: 120_000 });
  }
  // podman keeps network definitions machine-wide: one left behind holds its subnet
  const nets = await run("podman", [
    "network",
    "ls",
    "--quiet",
    "--filter",
    `label=io.edge.node=${nodeName}`,
  ], { timeoutMs: 60_000 }).catch(() => undefined);
  for (const net of nets?.stdout.split("\n").map((n) => n.trim()).filter((n) => n) ?? []) {
    await run("podman", ["network", "rm", "--force", net], { timeoutMs: 60_000 });
  }
}

/** What the harness needs from a kubeconfig written by `mod.ts up`. */
export interface Credentials {
  token: string;
  /** PEM of `certificate-authority-data`, when the server speaks https */
  caPem?: string;
}

/** Reads the admin token (and the CA, if any) from a kubeconfig written by `mod.ts up`. */
export async function readCredentials(kubeconfigPath: string): Promise<Credentials> {
  const config = parseYaml(await Deno.readTextFile(kubeconfigPath)) as {
    users?: { user?: { token?: string } }[];
    clusters?: { cluster?: { "certificate-authority-data"?: string } }[];
  };
  const token = config.users?.[0]?.user?.token;
  if (!token) throw new Error(`kubeconfig ${kubeconfigPath} has no users[0].user.token`);
  const caData = config.clusters?.[0]?.cluster?.["certificate-authority-data"];
  return caData ? { token, caPem: new TextDecoder().decode(base64Decode(caData)) } : { token };
}

function base64Decode(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * Starts `mod.ts up --data-dir <fresh temp dir> --listen 127.0.0.1:0` and waits for its ready
 * line (at most 60 s; the error then includes the server's stderr).
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const mode = options.mode ?? "up";
  const nodeName = `test-${crypto.randomUUID().slice(0, 8)}`;
  const root = await Deno.makeTempDir({ prefix: "edge-test-" });
  const dataDir = `${root}/data`;
  const cacheDir = `${root}/kube-cache`;
  await Deno.mkdir(dataDir);
  let server: ServerProcess;
  try {
    server = await spawnServer(mode, dataDir, "127.0.0.1:0", nodeName, options.agentArgs);
  } catch (error) {
    await Deno.remove(root, { recursive: true });
    throw error;
  }
  const kubeconfigPath = `${dataDir}/kubeconfig`;
  let credentials: Credentials;
  try {
    credentials = await readCredentials(kubeconfigPath);
  } catch (error) {
    await stopServer(server);
    await Deno.remove(root, { recursive: true });
    throw error;
  }
  const { token, caPem } = credentials;
  const client = caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
  const port = new URL(server.url).port;
  const kubectlEnv = { KUBECONFIG: kubeconfigPath, KUBECACHEDIR: cacheDir, HOME: root };
  const ctlArgs = (args: string[]) => [
    "run",
    "--allow-all",
    "mod.ts",
    "ctl",
    ...args,
    "--kubeconfig",
    kubeconfigPath,
  ];
  let stopped = false;

  const cluster: Cluster = {
    get url() {
      return server.url;
    },
    token,
    kubeconfigPath,
    dataDir,
    nodeName,
    get pid() {
      return server.child.pid;
    },
    kubectl(args, opts = {}) {
      return run(KUBECTL, args, { ...opts, env: kubectlEnv });
    },
    spawnKubectl(args) {
      return spawnStreaming(KUBECTL, args, kubectlEnv);
    },
    ctl(args, opts = {}) {
      return run(Deno.execPath(), ctlArgs(args), { ...opts, env: { HOME: root } });
    },
    spawnCtl(args) {
      return spawnStreaming(Deno.execPath(), ctlArgs(args), { HOME: root });
    },
    get endpoint() {
      return client && caPem
        ? { url: server.url, token, client, caPem }
        : { url: server.url, token };
    },
    request(method, path, body, headers) {
      return httpRequest(cluster.endpoint, method, path, body, headers);
    },
    logs() {
      return { stdout: server.stdout.toString(), stderr: server.stderr.toString() };
    },
    async restart() {
      await stopServer(server);
      server = await spawnServer(
        mode,
        dataDir,
        `127.0.0.1:${port}`,
        nodeName,
        options.agentArgs,
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client?.close();
      await stopServer(server);
      // `up` leaves its pods running by design; a test's cluster takes them along
      if (mode === "up") await removeNodePods(nodeName);
      await Deno.remove(root, { recursive: true });
    },
    [Symbol.asyncDispose]() {
      return cluster.stop();
    },
  };
  return cluster;
}

/**
 * Wraps a test body so it runs against a fresh cluster that is always stopped afterwards.
 *
 * @example
 * ```ts
 * Deno.test("kubectl get ns works", withCluster(async (cluster, t) => { … }));
 * ```
 */
export function withCluster(
  fn: (cluster: Cluster, t: Deno.TestContext) => Promise<void>,
  options: ClusterOptions = {},
): (t: Deno.TestContext) => Promise<void> {
  return async (t) => {
    await using cluster = await startCluster(options);
    await fn(cluster, t);
  };
}

/** Why kubectl tests are skipped on this machine, or `undefined` when kubectl is installed. */
export const kubectlSkipReason: string | undefined = hasKubectl
  ? undefined
  : `${KUBECTL} is not installed`;

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The command's stdout; fails the test with its code and output when it did not exit 0. */
export function assertOk(result: CommandResult, what: string): string {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result.stdout;
}
