/**
 * `mod.ts agent --cleanup` (and `up --cleanup`), as `kube-proxy --cleanup`: remove what the
 * agent programmed into this network namespace, the service proxy's nftables table and the
 * routes to other nodes' pod CIDRs (protocol 237), then exit. Pods and their podman network
 * are left alone (remove them with podman); a running agent would put both back.
 *
 * @module
 */

import { type Firewall, NftFirewall } from "../net/firewall.ts";
import { PROXY_TABLE } from "../net/proxy_model.ts";
import { applyRoutes, type CommandRunner } from "../net/routes.ts";

/** What {@linkcode cleanupNode} removed. */
export interface CleanupResult {
  /** the nftables table that is now gone */
  table: string;
  /** routes removed, as `DST via VIA` */
  routes: string[];
  /** routes that could not be removed */
  errors: string[];
}

/** Remove the proxy table and every route of ours (any destination). */
export async function cleanupNode(
  options: { firewall?: Firewall; run?: CommandRunner } = {},
): Promise<CleanupResult> {
  await (options.firewall ?? new NftFirewall()).remove();
  const routes = await applyRoutes([], {
    clusterCidr: "0.0.0.0/0",
    ...(options.run ? { run: options.run } : {}),
  });
  return {
    table: `ip ${PROXY_TABLE}`,
    routes: routes.removed.map((r) => `${r.dst} via ${r.via}`),
    errors: routes.errors,
  };
}
