/**
 * Termination messages, as kubelet keeps them: each container instance gets an empty file of
 * its own in the pod's directory, mounted at its `terminationMessagePath`
 * (`/dev/termination-log` by default). When the container has exited, what it wrote there (at
 * most 4096 bytes) becomes its terminated state's `message`; with `terminationMessagePolicy:
 * FallbackToLogsOnError`, a failed container that wrote nothing gets the end of its log instead
 * (the last 80 lines, at most 2048 bytes).
 *
 * @module
 */

/** kubelet's `MaxContainerTerminationMessageLength`. */
export const MAX_MESSAGE_BYTES = 4096;
/** kubelet's `MaxContainerTerminationMessageLogLines`. */
export const MAX_LOG_LINES = 80;
/** kubelet's `MaxContainerTerminationMessageLogLength`. */
export const MAX_LOG_BYTES = 2048;

/** The file of one container instance in `dir` (the pod's termination directory). */
export function terminationFile(dir: string, name: string, attempt: number): string {
  return `${dir}/${name}-${attempt}`;
}

/** Makes the empty, world-writable file a container instance will have mounted. */
export async function prepareTerminationFile(path: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, new Uint8Array());
  // a container running as any user may write it, as with kubelet
  await Deno.chmod(path, 0o666);
}

/** What the container wrote to its termination file, at most 4096 bytes; "" when none. */
export async function readTerminationFile(path: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return "";
  }
  try {
    const buffer = new Uint8Array(MAX_MESSAGE_BYTES);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, filled));
  } finally {
    file.close();
  }
}

/** The end of a log stream: its last 80 lines, and of those at most the last 2048 bytes. */
export async function logTail(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.length;
    // keep a bounded window: 80 lines can be long, but the message keeps only 2048 bytes
    while (size - (chunks[0]?.length ?? 0) > 64 * 1024) size -= chunks.shift()!.length;
  }
  const text = new TextDecoder().decode(concat(chunks));
  const lines = text.split("\n");
  const trailing = lines.at(-1) === "" ? 1 : 0;
  const kept = lines.slice(Math.max(0, lines.length - trailing - MAX_LOG_LINES)).join("\n");
  const bytes = new TextEncoder().encode(kept);
  return bytes.length <= MAX_LOG_BYTES
    ? kept
    : new TextDecoder().decode(bytes.subarray(bytes.length - MAX_LOG_BYTES));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
