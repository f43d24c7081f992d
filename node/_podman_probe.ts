/**
 * Network probes against 127.0.0.1, the way the podman runtime runs them:
 *
 * - in a pod's own network namespace: busybox `wget` (http/https) or `nc` (tcp) started through
 *   `nsenter --net`; this module builds their argument arrays and reads their results;
 * - for host-network pods: from the agent itself with `Deno.connect` to 127.0.0.1 (a plain
 *   HTTP/1.1 request written by hand, so no proxy setting can send it anywhere else).
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

/** The URL an http probe fetches. */
export function probeUrl(probe: HttpProbe): string {
  const scheme = probe.scheme === "HTTPS" ? "https" : "http";
  const path = probe.path.startsWith("/") ? probe.path : `/${probe.path}`;
  return `${scheme}://127.0.0.1:${probe.port}${path}`;
}

/**
 * Arguments for `busybox` (at `busyboxPath`) running a probe: `nc … -e busybox true` connects
 * and exits 0; `wget -Y off` never goes through a proxy.
 */
export function busyboxProbeArgs(
  probe: NetworkProbe,
  timeoutMs: number,
  busyboxPath: string,
): string[] {
  if (probe.kind === "tcp") {
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    return ["nc", "-w", seconds, "127.0.0.1", String(probe.port), "-e", busyboxPath, "true"];
  }
  const args = ["wget", "-q", "-Y", "off", "-O", "/dev/null"];
  if (!probe.headers.some((h) => h.name.toLowerCase() === "user-agent")) {
    args.push("-U", PROBE_USER_AGENT);
  }
  for (const { name, value } of probe.headers) args.push("--header", `${name}: ${value}`);
  if (probe.scheme === "HTTPS") args.push("--no-check-certificate");
  args.push(probeUrl(probe));
  return args;
}

/** The outcome of a busybox probe from its exit and stderr, worded like the kubelet's. */
export function busyboxProbeOutcome(
  probe: NetworkProbe,
  result: CommandResult,
  timeoutMs: number,
): ProbeOutcome {
  const target = probe.kind === "tcp"
    ? `dial tcp 127.0.0.1:${probe.port}`
    : `Get "${probeUrl(probe)}"`;
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

/** A tcp probe from the agent's own network namespace (host-network pods). */
export async function tcpProbeLoopback(port: number, timeoutMs: number): Promise<ProbeOutcome> {
  const target = `dial tcp 127.0.0.1:${port}`;
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
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
 * to 127.0.0.1, success for a status in [200, 400). Redirects are not followed.
 */
export async function httpProbeLoopback(
  probe: HttpProbe,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const target = `Get "${probeUrl(probe)}"`;
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
    conn = await Deno.connect({ hostname: "127.0.0.1", port: probe.port, signal });
    await writeAll(conn, new TextEncoder().encode(httpRequest(probe)));
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
export function httpRequest(probe: HttpProbe): string {
  const path = probe.path.startsWith("/") ? probe.path : `/${probe.path}`;
  const names = new Set(probe.headers.map((h) => h.name.toLowerCase()));
  const lines = [`GET ${path} HTTP/1.1`];
  if (!names.has("host")) lines.push(`Host: 127.0.0.1:${probe.port}`);
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
