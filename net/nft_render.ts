/**
 * `nft -f` scripts from {@linkcode ProxyState}s (pure):
 *
 * - {@linkcode renderFull}: the whole table, replaced in one transaction
 *   (`table … {}` / `delete table …` / `table … { … }`), for the first sync and after a
 *   failure. The old table stays in force until the new one is committed: no flush window.
 * - {@linkcode renderDiff}: only what changed between two states, in one transaction whose
 *   order keeps every reference valid: new sets and chains first, then changed and new
 *   chains' rules (`flush chain` + `add rule`), then map and set elements (deletes before
 *   adds), and last the chains and sets nothing refers to any more.
 * - {@linkcode renderRemove}: delete the table (idempotent).
 *
 * @example
 * ```ts
 * await firewall.apply(applied ? renderDiff(applied, next) : renderFull(next));
 * ```
 *
 * @module
 */

import type { ProxyChain, ProxyMap, ProxySet, ProxyState } from "./proxy_model.ts";

/** The script that deletes `table` (family `ip`) whether or not it exists. */
export function renderRemove(table: string): string {
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}

/** A script that replaces the whole table with `state`, atomically. */
export function renderFull(state: ProxyState): string {
  const out: string[] = [renderRemove(state.table), `table ip ${state.table} {\n`];
  out.push(`\tcomment ${quote(state.comment)}\n`);
  for (const set of state.sets.values()) {
    out.push(`\n\tset ${set.name} {\n`, ...setHeader(set).map((l) => `\t\t${l}\n`));
    if (set.elements.size > 0) out.push(elementBlock([...set.elements]));
    out.push("\t}\n");
  }
  for (const map of state.maps.values()) {
    out.push(`\n\tmap ${map.name} {\n`, ...mapHeader(map).map((l) => `\t\t${l}\n`));
    if (map.elements.size > 0) {
      out.push(elementBlock([...map.elements].map(([k, v]) => `${k} : ${v}`)));
    }
    out.push("\t}\n");
  }
  for (const chain of state.chains.values()) {
    out.push(`\n\tchain ${chain.name} {\n`);
    if (chain.comment !== undefined) out.push(`\t\tcomment ${quote(chain.comment)}\n`);
    if (chain.base) {
      const { type, hook, priority } = chain.base;
      out.push(`\t\ttype ${type} hook ${hook} priority ${priority}; policy accept;\n`);
    }
    for (const rule of chain.rules) out.push(`\t\t${rule}\n`);
    out.push("\t}\n");
  }
  out.push("}\n");
  return out.join("");
}

/**
 * The script that turns the table `old` describes into `next`: empty when nothing changed,
 * proportional to the change otherwise. When the change touches something nftables cannot
 * alter in place (the table's comment, a base chain's hook, a map or set definition such as
 * an affinity timeout), it is {@linkcode renderFull} of `next`.
 */
export function renderDiff(old: ProxyState, next: ProxyState): string {
  if (needsFullRender(old, next)) return renderFull(next);
  const t = `ip ${next.table}`;
  const head: string[] = [];
  const body: string[] = [];
  const tail: string[] = [];

  for (const set of next.sets.values()) {
    if (!old.sets.has(set.name)) {
      head.push(`add set ${t} ${set.name} { ${setHeader(set).join(" ")} }`);
    }
  }
  for (const chain of next.chains.values()) {
    const before = old.chains.get(chain.name);
    if (before === chain) continue;
    if (!before) {
      head.push(
        chain.comment === undefined
          ? `add chain ${t} ${chain.name}`
          : `add chain ${t} ${chain.name} { comment ${quote(chain.comment)}; }`,
      );
    } else if (sameRules(before.rules, chain.rules)) {
      continue;
    } else {
      body.push(`flush chain ${t} ${chain.name}`);
    }
    for (const rule of chain.rules) body.push(`add rule ${t} ${chain.name} ${rule}`);
  }

  for (const map of next.maps.values()) {
    const before = old.maps.get(map.name)!.elements;
    const dropped: string[] = [];
    const added: string[] = [];
    for (const [k, v] of before) if (map.elements.get(k) !== v) dropped.push(k);
    for (const [k, v] of map.elements) if (before.get(k) !== v) added.push(`${k} : ${v}`);
    if (dropped.length > 0) body.push(`delete element ${t} ${map.name} { ${dropped.join(", ")} }`);
    if (added.length > 0) body.push(`add element ${t} ${map.name} { ${added.join(", ")} }`);
  }
  for (const set of next.sets.values()) {
    const before = old.sets.get(set.name)?.elements ?? new Set<string>();
    const dropped: string[] = [];
    const added: string[] = [];
    for (const e of before) if (!set.elements.has(e)) dropped.push(e);
    for (const e of set.elements) if (!before.has(e)) added.push(e);
    if (dropped.length > 0) body.push(`delete element ${t} ${set.name} { ${dropped.join(", ")} }`);
    if (added.length > 0) body.push(`add element ${t} ${set.name} { ${added.join(", ")} }`);
  }

  const gone = [...old.chains.keys()].filter((name) => !next.chains.has(name));
  for (const name of gone) tail.push(`flush chain ${t} ${name}`);
  for (const name of gone) tail.push(`delete chain ${t} ${name}`);
  for (const name of old.sets.keys()) {
    if (!next.sets.has(name)) tail.push(`delete set ${t} ${name}`);
  }
  const lines = [...head, ...body, ...tail];
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/**
 * True when going from `old` to `next` touches something nftables cannot change in place,
 * so {@linkcode renderDiff} falls back to {@linkcode renderFull}.
 */
export function needsFullRender(old: ProxyState, next: ProxyState): boolean {
  if (old.table !== next.table || old.comment !== next.comment) return true;
  for (const chain of next.chains.values()) {
    const before = old.chains.get(chain.name);
    if (before ? !sameChainHead(before, chain) : chain.base !== undefined) return true;
  }
  for (const chain of old.chains.values()) {
    if (chain.base && !next.chains.has(chain.name)) return true;
  }
  if (old.maps.size !== next.maps.size) return true;
  for (const map of next.maps.values()) {
    const before = old.maps.get(map.name);
    if (!before || before.type !== map.type || before.comment !== map.comment) return true;
  }
  for (const set of next.sets.values()) {
    const before = old.sets.get(set.name);
    if (before && setHeader(before).join(" ") !== setHeader(set).join(" ")) return true;
  }
  return false;
}

function sameChainHead(a: ProxyChain, b: ProxyChain): boolean {
  if (a.comment !== b.comment) return false;
  if (!a.base || !b.base) return a.base === b.base;
  return a.base.type === b.base.type && a.base.hook === b.base.hook &&
    a.base.priority === b.base.priority;
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((rule, i) => rule === b[i]);
}

function setHeader(set: ProxySet): string[] {
  const lines = [`type ${set.type};`];
  if (set.flags.length > 0) lines.push(`flags ${set.flags.join(",")};`);
  if (set.timeoutSeconds !== undefined) lines.push(`timeout ${set.timeoutSeconds}s;`);
  if (set.comment !== undefined) lines.push(`comment ${quote(set.comment)};`);
  return lines;
}

function mapHeader(map: ProxyMap): string[] {
  const lines = [`type ${map.type};`];
  if (map.comment !== undefined) lines.push(`comment ${quote(map.comment)};`);
  return lines;
}

function elementBlock(elements: string[]): string {
  return `\t\telements = {\n${elements.map((e) => `\t\t\t${e}`).join(",\n")}\n\t\t}\n`;
}

/** Comments come from validated names only; a quote or newline here is a programming error. */
function quote(s: string): string {
  if (/["\\\n\r]/.test(s)) throw new Error(`Cannot render nft comment: ${JSON.stringify(s)}`);
  return `"${s}"`;
}
