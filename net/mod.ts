/**
 * Cluster networking on a node: the nftables service proxy (kube-proxy nftables-mode style),
 * the pod network (a podman bridge on the node's pod CIDR) and the routes to other nodes' pod
 * CIDRs.
 *
 * Everything re-exported here is free of npm packages, because the agent imports it and
 * runs with `--no-npm`. Cluster DNS (`net/dns/`) uses an npm DNS codec and runs in the
 * control plane, so it is imported from `net/dns/` directly, not from here.
 *
 * @module
 */

export {
  buildProxyState,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  MASQUERADE_MARK,
  PROXY_TABLE,
  ProxyModelCache,
} from "./proxy_model.ts";
export type {
  BaseChainHook,
  ProxyChain,
  ProxyMap,
  ProxyNode,
  ProxySet,
  ProxyState,
} from "./proxy_model.ts";
export { needsFullRender, renderDiff, renderFull, renderRemove } from "./nft_render.ts";
export { FakeFirewall, NftFirewall } from "./firewall.ts";
export type { Firewall, NftFirewallOptions } from "./firewall.ts";
export { Proxier } from "./proxier.ts";
export type { ProxierOptions, SyncResult } from "./proxier.ts";
export * from "./pod_network.ts";
export * from "./routes.ts";
