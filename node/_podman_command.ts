/**
 * Running a program with an argument array and a deadline, for the podman runtime: podman
 * itself, and nsenter + busybox for probes. Nothing here goes through a shell.
 *
 * @module
 */

/** What a finished (or killed) command left behind. */
export interface CommandResult {
  /** exit code; 128 + signal number when it was killed */
  code: number;
  stdout: string;
  stderr: string;
  /** the deadline passed and the command was killed */
  timedOut: boolean;
}

/** How to run one command. */
export interface CommandOptions {
  /** kill the command (SIGTERM) after this many milliseconds */
  timeoutMs: number;
  /** environment variables added to (or, with `clearEnv`, replacing) the agent's own */
  env?: Record<string, string>;
  /** start from an empty environment instead of the agent's */
  clearEnv?: boolean;
}

/**
 * Runs `path args…` to completion or until `timeoutMs` passes. Throws only when the program
 * cannot be started at all (missing binary, no permission); a non-zero exit is a result.
 */
export async function runCommand(
  path: string,
  args: string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const command = new Deno.Command(path, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
    ...(options.env ? { env: options.env } : {}),
    ...(options.clearEnv ? { clearEnv: true } : {}),
  });
  const output = await command.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    timedOut: signal.aborted,
  };
}

/**
 * The useful part of a podman error: its stderr without the `Error: ` prefixes, on one line,
 * falling back to the exit code when podman said nothing.
 */
export function errorText(result: CommandResult): string {
  const text = result.stderr
    .split("\n")
    .map((line) => line.trim().replace(/^Error: /, ""))
    .filter((line) => line !== "")
    .join("; ");
  return text === "" ? `exit code ${result.code}` : text;
}
