/**
 * Configs the runtime tests share (the in-memory runtimes, the cache, the log endpoint): a
 * sandbox and a container of the test image with nothing set but what they must have.
 *
 * @module
 */

import type { ContainerConfig, SandboxConfig } from "./runtime.ts";

/** The image the e2e tests build; the in-memory runtimes are told they have it. */
export const TEST_IMAGE = "localhost/edge-test:1";

/** Sandbox `pod-<podUid>` in namespace default on edge-1, plus `extra`. */
export function testSandbox(podUid: string, extra: Partial<SandboxConfig> = {}): SandboxConfig {
  return {
    podUid,
    podName: `pod-${podUid}`,
    podNamespace: "default",
    node: "edge-1",
    hostname: `pod-${podUid}`,
    hostNetwork: false,
    portMappings: [],
    ...extra,
  };
}

/** App container `name` (attempt 0, spec hash "h1") of the test image, plus `extra`. */
export function testContainer(
  podUid: string,
  name: string,
  extra: Partial<ContainerConfig> = {},
): ContainerConfig {
  return {
    podUid,
    name,
    kind: "app",
    attempt: 0,
    specHash: "h1",
    image: TEST_IMAGE,
    env: [],
    mounts: [],
    tty: false,
    stdin: false,
    ...extra,
  };
}
