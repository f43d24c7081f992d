/**
 * `ctl`: our kubectl-compatible CLI. {@linkcode runCtl} runs one command line and returns the
 * exit code; {@linkcode CtlIO} lets tests replace the terminal, the environment and `fetch`.
 *
 * @example
 * ```ts
 * const code = await runCtl(["get", "pods", "-n", "web"]);
 * Deno.exit(code);
 * ```
 *
 * @module
 */

import {
  boolFlag,
  type FlagSpec,
  parseArgs,
  type ParsedArgs,
  stringFlag,
  stringsFlag,
  UsageError,
} from "./_args.ts";
import { errorMessage, KubeClient } from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import { readManifests } from "./_manifests.ts";
import {
  REGISTRY_RESOURCES,
  type ResourceInfo,
  type Resources,
  resourcesFrom,
} from "./_resources.ts";
import { applyManifests } from "./apply.ts";
import { deleteManifests, deleteResources } from "./delete.ts";
import { describe } from "./describe.ts";
import { get } from "./get.ts";
import { logs } from "./logs.ts";
import { type ClusterAccess, loadKubeconfig } from "./kubeconfig.ts";

/** The outside world of one `runCtl` call; every field defaults to the real one. */
export interface CtlIO {
  /** standard output writer */
  stdout?: (text: string) => void;
  /** standard error writer */
  stderr?: (text: string) => void;
  /** what `-f -` reads: the text itself, or a reader */
  stdin?: string | (() => Promise<string>);
  /** environment variables (`KUBECONFIG`, `HOME`); defaults to `Deno.env` */
  env?: Record<string, string | undefined>;
  /** `fetch` to reach the API server; with the real one, kubeconfig TLS settings apply */
  fetch?: typeof fetch;
  /** resource types to know instead of `storage/registry.ts` */
  resources?: readonly ResourceInfo[];
  /** the clock for ages */
  now?: () => Date;
  /** stops `get -w` */
  signal?: AbortSignal;
}

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "kubeconfig", type: "string" },
  { name: "context", type: "string" },
  { name: "namespace", short: "n", type: "string" },
  { name: "server", short: "s", type: "string" },
  { name: "token", type: "string" },
  { name: "help", short: "h", type: "bool" },
];

interface Command {
  flags: FlagSpec[];
  usage: string;
  run(ctx: CommandContext, parsed: ParsedArgs): Promise<number>;
}

const FILENAME: FlagSpec = { name: "filename", short: "f", type: "strings" };
const RECURSIVE: FlagSpec = { name: "recursive", short: "R", type: "bool" };
const SELECTOR: FlagSpec = { name: "selector", short: "l", type: "string" };
const ALL_NAMESPACES: FlagSpec = { name: "all-namespaces", short: "A", type: "bool" };

const COMMANDS: Record<string, Command> = {
  apply: {
    flags: [FILENAME, RECURSIVE],
    usage: `Apply a configuration to a resource by file name or stdin.

Creates missing objects and patches existing ones with a three-way merge against the
last-applied-configuration annotation. JSON and YAML (many documents, kind: List) are accepted.

Usage:
  ctl apply -f FILENAME|DIRECTORY|- [-f …] [-R] [-n NAMESPACE]

Options:
  -f, --filename=[]   File, directory (*.yaml, *.yml, *.json) or - for stdin; repeatable
  -R, --recursive     Process the directory used in -f recursively
`,
    async run(ctx, parsed) {
      if (parsed.positionals.length > 0) {
        throw new UsageError(`unexpected arguments: ${parsed.positionals.join(" ")}`);
      }
      const files = stringsFlag(parsed, "filename");
      if (files.length === 0) throw new UsageError("must specify one of -f and -k");
      const manifests = await readManifests(files, boolFlag(parsed, "recursive"), ctx.readStdin);
      return await applyManifests(ctx, manifests);
    },
  },
  get: {
    flags: [
      ALL_NAMESPACES,
      SELECTOR,
      { name: "field-selector", type: "string" },
      { name: "output", short: "o", type: "string" },
      { name: "watch", short: "w", type: "bool" },
      { name: "show-labels", type: "bool" },
      { name: "no-headers", type: "bool" },
    ],
    usage: `Display one or many resources.

Usage:
  ctl get TYPE[,TYPE…] [NAME…] [flags]
  ctl get TYPE/NAME… [flags]

Options:
  -A, --all-namespaces      List across all namespaces
  -l, --selector=''         Label selector, e.g. -l app=web,tier!=db
      --field-selector=''   Field selector, e.g. --field-selector spec.nodeName=edge-1
  -o, --output=''           wide, yaml, json or name
  -w, --watch               After listing, watch for changes
      --show-labels         Show all labels as the last column
      --no-headers          Do not print headers
`,
    run: (ctx, parsed) => {
      const output = stringFlag(parsed, "output") ?? "";
      const opts = {
        allNamespaces: boolFlag(parsed, "all-namespaces"),
        output,
        watch: boolFlag(parsed, "watch"),
        showLabels: boolFlag(parsed, "show-labels"),
        noHeaders: boolFlag(parsed, "no-headers"),
        ...optional("labelSelector", stringFlag(parsed, "selector")),
        ...optional("fieldSelector", stringFlag(parsed, "field-selector")),
      };
      return get(ctx, parsed.positionals, opts);
    },
  },
  describe: {
    flags: [ALL_NAMESPACES, SELECTOR],
    usage: `Show details of a specific resource or group of resources.

Usage:
  ctl describe TYPE [NAME_PREFIX…] [flags]
  ctl describe TYPE/NAME

Options:
  -A, --all-namespaces   Describe across all namespaces
  -l, --selector=''      Label selector
`,
    run: (ctx, parsed) =>
      describe(ctx, parsed.positionals, {
        allNamespaces: boolFlag(parsed, "all-namespaces"),
        ...optional("labelSelector", stringFlag(parsed, "selector")),
      }),
  },
  logs: {
    flags: [
      { name: "container", short: "c", type: "string" },
      { name: "follow", short: "f", type: "bool" },
      { name: "tail", type: "string" },
      { name: "timestamps", type: "bool" },
      { name: "previous", short: "p", type: "bool" },
      { name: "since", type: "string" },
    ],
    usage: `Print the logs for a container in a pod.

Usage:
  ctl logs POD [-c CONTAINER] [flags]

Options:
  -c, --container=''   Container name (needed when the pod has several)
  -f, --follow         Keep streaming new lines
      --tail=-1        Only the last N lines
      --timestamps     Prefix each line with its RFC 3339 timestamp
  -p, --previous       The previous (terminated) instance of the container
      --since=''       Only lines newer than a duration, e.g. 5s, 2m, 1h
`,
    run: (ctx, parsed) =>
      logs(ctx, parsed.positionals, {
        follow: boolFlag(parsed, "follow"),
        timestamps: boolFlag(parsed, "timestamps"),
        previous: boolFlag(parsed, "previous"),
        ...optional("container", stringFlag(parsed, "container")),
        ...optional("tail", stringFlag(parsed, "tail")),
        ...optional("since", stringFlag(parsed, "since")),
      }),
  },
  delete: {
    flags: [
      FILENAME,
      RECURSIVE,
      SELECTOR,
      { name: "all", type: "bool" },
      { name: "ignore-not-found", type: "bool" },
    ],
    usage:
      `Delete resources by file names, stdin, resources and names, or by resources and label selector.

Usage:
  ctl delete -f FILENAME|DIRECTORY|- [-R]
  ctl delete TYPE NAME… | TYPE/NAME…
  ctl delete TYPE -l SELECTOR | TYPE --all

Options:
  -f, --filename=[]      File, directory or - for stdin; repeatable
  -R, --recursive        Process the directory used in -f recursively
  -l, --selector=''      Delete the objects matching this label selector
      --all              Delete all objects of the type in the namespace
      --ignore-not-found Treat "resource not found" as a successful delete
`,
    async run(ctx, parsed) {
      const opts = {
        all: boolFlag(parsed, "all"),
        ignoreNotFound: boolFlag(parsed, "ignore-not-found"),
        ...optional("labelSelector", stringFlag(parsed, "selector")),
      };
      const files = stringsFlag(parsed, "filename");
      if (files.length === 0) return await deleteResources(ctx, parsed.positionals, opts);
      if (parsed.positionals.length > 0) {
        throw new UsageError("cannot specify both a resource type and -f");
      }
      const manifests = await readManifests(files, boolFlag(parsed, "recursive"), ctx.readStdin);
      return await deleteManifests(ctx, manifests, opts);
    },
  },
};

/** The top-level help text. */
export const USAGE = `ctl controls the edge cluster through its Kubernetes API, like kubectl.

Usage:
  ctl [global flags] COMMAND [flags]

Commands:
  apply      Apply a configuration to a resource by file name or stdin
  get        Display one or many resources
  describe   Show details of a specific resource or group of resources
  logs       Print the logs for a container in a pod
  delete     Delete resources by file names, stdin, resources and names, or by label selector

Global flags:
      --kubeconfig=''   Path to the kubeconfig file (default $KUBECONFIG, else ~/.kube/config)
      --context=''      The kubeconfig context to use
  -n, --namespace=''    The namespace scope for this request
  -s, --server=''       The address of the API server
      --token=''        Bearer token for the API server

Use "ctl COMMAND --help" for more information about a command.
`;

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/** Find the command word: the first argument that is neither a global flag nor its value. */
function splitCommand(args: readonly string[]): { command?: string; rest: string[] } {
  const withValue = new Set(
    GLOBAL_FLAGS.filter((f) => f.type !== "bool").flatMap((f) =>
      f.short ? [`--${f.name}`, `-${f.short}`] : [`--${f.name}`]
    ),
  );
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (withValue.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      return { command: arg, rest: [...args.slice(0, i), ...args.slice(i + 1)] };
    }
  }
  return { rest: [...args] };
}

/** Run one ctl command line; returns the process exit code (0 ok, 1 error). */
export async function runCtl(args: string[], io: CtlIO = {}): Promise<number> {
  const out = io.stdout ?? writer(Deno.stdout);
  const err = io.stderr ?? writer(Deno.stderr);
  const { command: word, rest } = splitCommand(args);
  if (word === undefined || word === "help") {
    const wantsHelp = word === "help" || rest.includes("--help") || rest.includes("-h") ||
      args.length === 0;
    (wantsHelp ? out : err)(USAGE);
    return wantsHelp ? 0 : 1;
  }
  const command = COMMANDS[word];
  if (!command) {
    err(`error: unknown command "${word}" for "ctl"\n\n${USAGE}`);
    return 1;
  }
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(rest, [...GLOBAL_FLAGS, ...command.flags]);
  } catch (e) {
    err(`error: ${e instanceof Error ? e.message : e}\n\n${command.usage}`);
    return 1;
  }
  if (boolFlag(parsed, "help")) {
    out(command.usage);
    return 0;
  }
  let httpClient: Deno.HttpClient | undefined;
  try {
    const env = io.env ?? Deno.env.toObject();
    const access = await loadKubeconfig({
      env,
      ...optional("path", stringFlag(parsed, "kubeconfig")),
      ...optional("context", stringFlag(parsed, "context")),
      ...optional("namespace", stringFlag(parsed, "namespace")),
      ...optional("server", stringFlag(parsed, "server")),
      ...optional("token", stringFlag(parsed, "token")),
    });
    if (!io.fetch) httpClient = tlsClient(access);
    const resources: Resources = io.resources ? resourcesFrom(io.resources) : REGISTRY_RESOURCES;
    const ctx: CommandContext = {
      client: new KubeClient(access, io.fetch ?? fetch, httpClient),
      access,
      resources,
      out,
      err,
      readStdin: stdinReader(io.stdin),
      now: io.now ?? (() => new Date()),
      ...(io.signal ? { signal: io.signal } : {}),
    };
    return await command.run(ctx, parsed);
  } catch (e) {
    if (e instanceof UsageError) err(`error: ${e.message}\n\n${command.usage}`);
    else err(`${errorMessage(e)}\n`);
    return 1;
  } finally {
    httpClient?.close();
  }
}

/**
 * A Deno HTTP client carrying the kubeconfig's CA and client certificate; undefined when the
 * defaults do. Deno cannot skip TLS verification per client, so `insecure-skip-tls-verify`
 * needs `deno run --unsafely-ignore-certificate-errors`.
 */
function tlsClient(access: ClusterAccess): Deno.HttpClient | undefined {
  if (!access.server.startsWith("https:")) return undefined;
  const caCerts = access.caCert ? [access.caCert] : undefined;
  if (access.clientCert && access.clientKey) {
    return Deno.createHttpClient({
      ...(caCerts ? { caCerts } : {}),
      cert: access.clientCert,
      key: access.clientKey,
    });
  }
  return caCerts ? Deno.createHttpClient({ caCerts }) : undefined;
}

function stdinReader(stdin: CtlIO["stdin"]): () => Promise<string> {
  if (typeof stdin === "string") return () => Promise.resolve(stdin);
  if (stdin) return stdin;
  return () => new Response(Deno.stdin.readable).text();
}

function writer(stream: { writeSync(p: Uint8Array): number }): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
  };
}
