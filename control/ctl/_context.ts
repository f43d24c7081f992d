/**
 * What every ctl command works with: the API client, the resource types, the output writers
 * and the clock.
 *
 * @module
 */

import type { KubeClient } from "./_client.ts";
import type { ClusterAccess } from "./kubeconfig.ts";
import type { Resources } from "./_resources.ts";

/** The environment of one command run. */
export interface CommandContext {
  client: KubeClient;
  access: ClusterAccess;
  resources: Resources;
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  now(): Date;
  /** aborts long-running commands (`get -w`) */
  signal?: AbortSignal;
}
