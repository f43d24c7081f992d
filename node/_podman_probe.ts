/**
 * Network probes, the way the podman runtime runs them, against the probe's `host` or else the
 * pod's IP (127.0.0.1 for a host-network pod):
 *
 * - in a pod's own network namespace: busybox `wget` (http/https) or `nc` (tcp) started through
 *   `nsenter --net`; this module builds their argument arrays and reads their results;
 * - for host-network pods: from the agent itself with `Deno.connect` (a plain HTTP/1.1 request
 *   written by hand, so no proxy setting can send it anywhere else).
 *
 * Debian's busybox 1.35 `wget -T` crashes (SIGSEGV), so deadlines are enforced by killing the
 * process instead; its `nc` has no `-z`, so a tcp probe runs `nc … -e true` (connect, then exit 0).
 *
 * @module
 */

import type { CommandResult } from "./_podman_command.ts";
import type { NetworkProbe, ProbeOutcome } from "./runtime.ts";

/** The User-Agent a probe sends unless the probe sets its own. */
export const PROBE_USER_AGENT = "kube-probe/edge";

type HttpProbe = Extract<NetworkProbe, { kind: "http" }>;

/**
 * Whether `host` may be probed: an IPv4 or IPv6 address or a DNS name, and nothing that could
 * change what a URL or a command line means.
 */
export function isProbeHost(host: string): boolean {
  if (host.includes(":")) return /^[0-9a-fA-F:.]+$/.test(host);
  return host.length <= 253 &&
    /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/.test(
      host,
    );
}

/** `host:port`, with an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The URL an http probe fetches from `host`. */
export function probeUrl(probe: HttpProbe, host: string): string {
  const scheme = probe.scheme === "HTTPS" ? "https" : "http";
  const path = probe.path.startsWith("/") ? probe.path : `/${probe.path}`;
  return `${scheme}://${hostPort(host, probe.port)}${path}`;
}

/**
 * Arguments for `busybox` (at `busyboxPath`) running a probe: `nc … -e busybox true` connects
 * and exits 0; `wget -Y off` never goes through a proxy.
 */
export function busyboxProbeArgs(
  probe: NetworkProbe,
  timeoutMs: number,
  busyboxPath: string,
  host: string,
): string[] {
  if (probe.kind === "tcp") {
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    return ["nc", "-w", seconds, host, String(probe.port), "-e", busyboxPath, "true"];
  }
  const args = ["wget", "-q", "-Y", "off", "-O", "/dev/null"];
  if (!probe.headers.some((h) => h.name.toLowerCase() === "user-agent")) {
    args.push("-U", PROBE_USER_AGENT);
  }
  for (const { name, value } of probe.headers) args.push("--header", `${name}: ${value}`);
  if (probe.scheme === "HTTPS") args.push("--no-check-certificate");
  args.push(probeUrl(probe, host));
  return args;
}

/** The outcome of a busybox probe from its exit and stderr, worded like the kubelet's. */
export function busyboxProbeOutcome(
  probe: NetworkProbe,
  result: CommandResult,
  timeoutMs: number,
  host: string,
): ProbeOutcome {
  const target = probeTarget(probe, host);
  if (result.timedOut) {
    return { success: false, message: `${target}: timeout after ${timeoutMs}ms` };
  }
  if (result.code === 0) return { success: true, message: "" };
  const text = result.stderr.split("\n").map((l) => l.replace(/^(wget|nc): /, "").trim())
    .filter((l) => l !== "" && !l.startsWith("BusyBox") && !l.startsWith("Usage:")).join("; ");
  const status = /server returned error: HTTP\/[\d.]+ (\d{3})/.exec(text)?.[1];
  if (status) return { success: false, message: `HTTP probe failed with statuscode: ${status}` };
  return { success: false, message: `${target}: ${text || `exit code ${result.code}`}` };
}

/** What a probe reaches, as kubelet words it in a failure: `dial tcp …` or `Get "…"`. */
export function probeTarget(probe: NetworkProbe, host: string): string {
  return probe.kind === "tcp"
    ? `dial tcp ${hostPort(host, probe.port)}`
    : `Get "${probeUrl(probe, host)}"`;
}

/** A tcp probe from the agent's own network namespace (host-network pods). */
export async function tcpProbeDirect(
  port: number,
  timeoutMs: number,
  host: string,
): Promise<ProbeOutcome> {
  const target = `dial tcp ${hostPort(host, port)}`;
  try {
    const conn = await Deno.connect({
      hostname: host,
      port,
      signal: AbortSignal.timeout(timeoutMs),
    });
    conn.close();
    return { success: true, message: "" };
  } catch (error) {
    return { success: false, message: `${target}: ${describe(error, timeoutMs)}` };
  }
}

/**
 * An http probe from the agent's own network namespace (host-network pods): one HTTP/1.1 GET
 * to `host`, success for a status in [200, 400). Redirects are not followed.
 */
export async function httpProbeDirect(
  probe: HttpProbe,
  timeoutMs: number,
  host: string,
): Promise<ProbeOutcome> {
  const target = `Get "${probeUrl(probe, host)}"`;
  if (probe.headers.some((h) => /[\r\n]/.test(h.name + h.value) || h.name.includes(":"))) {
    return { success: false, message: `${target}: invalid header` };
  }
  const signal = AbortSignal.timeout(timeoutMs);
  let conn: Deno.TcpConn | undefined;
  const close = () => {
    try {
      conn?.close();
    } catch {
      // already closed
    }
  };
  signal.addEventListener("abort", close, { once: true });
  try {
    conn = await Deno.connect({ hostname: host, port: probe.port, signal });
    await writeAll(conn, new TextEncoder().encode(httpRequest(probe, host)));
    const statusLine = await readLine(conn);
    const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    if (Number.isNaN(status)) {
      return { success: false, message: `${target}: malformed HTTP response` };
    }
    if (status >= 200 && status < 400) return { success: true, message: "" };
    return { success: false, message: `HTTP probe failed with statuscode: ${status}` };
  } catch (error) {
    return { success: false, message: `${target}: ${describe(error, timeoutMs, signal)}` };
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/** The raw HTTP/1.1 request of an http probe. */
export function httpRequest(probe: HttpProbe, host: string): string {
  const path = probe.path.startsWith("/") ? probe.path : `/${probe.path}`;
  const names = new Set(probe.headers.map((h) => h.name.toLowerCase()));
  const lines = [`GET ${path} HTTP/1.1`];
  if (!names.has("host")) lines.push(`Host: ${hostPort(host, probe.port)}`);
  if (!names.has("user-agent")) lines.push(`User-Agent: ${PROBE_USER_AGENT}`);
  if (!names.has("accept")) lines.push("Accept: */*");
  for (const { name, value } of probe.headers) lines.push(`${name}: ${value}`);
  lines.push("Connection: close", "", "");
  return lines.join("\r\n");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Reads up to the first CRLF (at most 8 KiB). */
async function readLine(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1024);
  let text = "";
  while (!text.includes("\r\n") && text.length < 8192) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text.split("\r\n")[0] ?? "";
}

function describe(error: unknown, timeoutMs: number, signal?: AbortSignal): string {
  if (signal?.aborted || (error instanceof DOMException && error.name === "TimeoutError")) {
    return `timeout after ${timeoutMs}ms`;
  }
  return error instanceof Error ? error.message : String(error);
}
