/**
 * `ctl`, the kubectl-compatible CLI of the edge cluster runtime: `apply`, `get`, `describe`,
 * `delete` against the Kubernetes API.
 *
 * @module
 */

export { type CtlIO, runCtl } from "./ctl.ts";
export { type ClusterAccess, loadKubeconfig } from "./kubeconfig.ts";
