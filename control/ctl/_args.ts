/**
 * Command-line parsing with kubectl's (pflag's) conventions: `--flag=value`, `--flag value`,
 * `-n value`, `-nvalue`, `-n=value`, boolean flags with optional `=true|false`, flags anywhere
 * among the positionals, and `--` to end flags.
 *
 * @module
 */

/** How a flag takes its value. `strings` flags repeat and split on commas (`-f a,b -f c`). */
export type FlagType = "bool" | "string" | "strings";

/** One flag a command accepts. */
export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
}

/** The parsed command line. */
export interface ParsedArgs {
  positionals: string[];
  /** Set flags by long name: booleans, strings, or string lists. */
  flags: Map<string, boolean | string | string[]>;
}

/** A mistake on the command line; the CLI prints it with the command's usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parse `args` against `specs`; throws {@linkcode UsageError} on an unknown or incomplete flag. */
export function parseArgs(args: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const parsed: ParsedArgs = { positionals: [], flags: new Map() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      parsed.positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      parsed.positionals.push(arg);
      continue;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
    } else {
      const short = arg[1]!;
      spec = byShort.get(short);
      if (!spec) throw new UsageError(`unknown shorthand flag: '${short}' in ${arg}`);
      const rest = arg.slice(2);
      if (rest !== "") inline = rest.startsWith("=") ? rest.slice(1) : rest;
    }
    if (spec.type === "bool") {
      if (inline === undefined || inline === "true") parsed.flags.set(spec.name, true);
      else if (inline === "false") parsed.flags.set(spec.name, false);
      else {
        throw new UsageError(
          `invalid argument "${inline}" for "${
            flagLabel(spec)
          }" flag: strconv.ParseBool: parsing "${inline}": invalid syntax`,
        );
      }
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: ${flagLabel(spec)}`);
      value = args[++i]!;
    }
    if (spec.type === "string") parsed.flags.set(spec.name, value);
    else {
      const prev = parsed.flags.get(spec.name);
      const list = Array.isArray(prev) ? prev : [];
      list.push(...value.split(",").filter((v) => v !== ""));
      parsed.flags.set(spec.name, list);
    }
  }
  return parsed;
}

function flagLabel(spec: FlagSpec): string {
  return spec.short ? `'${spec.short}' in -${spec.short}` : `--${spec.name}`;
}

/** A string flag's value, or undefined when not given. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const v = parsed.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/** A boolean flag's value (false when not given). */
export function boolFlag(parsed: ParsedArgs, name: string): boolean {
  return parsed.flags.get(name) === true;
}

/** A repeatable flag's values (empty when not given). */
export function stringsFlag(parsed: ParsedArgs, name: string): string[] {
  const v = parsed.flags.get(name);
  return Array.isArray(v) ? v : [];
}
