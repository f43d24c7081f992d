/**
 * Edge cluster runtime: Kubernetes' model for small Linux edge gateways.
 *
 * One program: `deno run -A mod.ts up | server | ctl …`.
 *
 * @module
 */

export { startControlPlane } from "./control/server.ts";
export type { ControlPlane, ControlPlaneOptions } from "./control/server.ts";
export { createApiApp } from "./control/api/app.ts";
export { openKvStore } from "./storage/kv_store.ts";
export type { Store } from "./storage/store.ts";
export { runCtl } from "./control/ctl/mod.ts";

import { startControlPlane } from "./control/server.ts";
import { runCtl } from "./control/ctl/mod.ts";

const USAGE = `Usage: mod.ts COMMAND [options]

Commands:
  up       control plane with an embedded Deno KV store (the default on a single gateway)
  server   control plane only
  ctl      the command-line client (kubectl-like): apply, get, describe, delete

Options of up and server:
  --data-dir DIR         state, admin token and kubeconfig (default ./.edge)
  --listen HOST:PORT     address to serve the API on (default 127.0.0.1:6443; port 0 = any)
  --max-body-bytes N     largest request body accepted (default 3145728)
`;

interface ServeFlags {
  dataDir: string;
  listen: string;
  maxBodyBytes?: number;
}

function parseServeFlags(args: string[]): ServeFlags {
  const flags: ServeFlags = { dataDir: "./.edge", listen: "127.0.0.1:6443" };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--data-dir":
        flags.dataDir = value();
        break;
      case "--listen":
        flags.listen = value();
        break;
      case "--max-body-bytes": {
        const n = Number(value());
        if (!Number.isSafeInteger(n) || n < 1024) {
          throw new Error("--max-body-bytes must be an integer of at least 1024");
        }
        flags.maxBodyBytes = n;
        break;
      }
      default:
        throw new Error(`unknown option "${arg}"\n\n${USAGE}`);
    }
  }
  return flags;
}

async function serve(mode: "up" | "server", args: string[]): Promise<number> {
  const flags = parseServeFlags(args);
  const cp = await startControlPlane({
    dataDir: flags.dataDir,
    listen: flags.listen,
    ...(flags.maxBodyBytes ? { maxBodyBytes: flags.maxBodyBytes } : {}),
  });
  console.log(`edge ${mode}: ready at ${cp.url} (kubeconfig ${cp.kubeconfigPath})`);
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await cp.stop();
  console.log(`edge ${mode}: stopped`);
  return 0;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "up":
      case "server":
        return await serve(command, rest);
      case "ctl":
        return await runCtl(rest);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
