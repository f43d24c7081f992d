/**
 * `nft -f` scripts from {@linkcode ProxyState}s (pure):
 *
 * - {@linkcode renderFull}: the whole table, replaced in one transaction
 *   (`table … {}` / `delete table …` / `table … { … }`), for the first sync and after a
 *   failure. The old table stays in force until the new one is committed: no flush window.
 * - {@linkcode renderDiff}: only what changed between two states (as `proxy_diff.ts` finds
 *   it), in one transaction whose order keeps every reference valid: new sets, maps and
 *   chains first, then changed and new chains' rules (`flush chain` + `add rule`), then map
 *   and set elements (deletes before adds), and last the chains, sets and maps nothing
 *   refers to any more.
 * - {@linkcode renderRemove}: delete the table (idempotent).
 *
 * @example
 * ```ts
 * await firewall.apply(applied ? renderDiff(applied, next) : renderFull(next));
 * ```
 *
 * @module
 */

import { diffProxyStates, needsReplace } from "./proxy_diff.ts";
import {
  type ProxyMapDefinition,
  type ProxySet,
  type ProxyState,
  tableLists,
} from "./proxy_model.ts";

/** The script that deletes `table` (family `ip`) whether or not it exists. */
export function renderRemove(table: string): string {
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}

/** A script that replaces the whole table with `state`, atomically. */
export function renderFull(state: ProxyState): string {
  const lists = tableLists(state);
  const out: string[] = [renderRemove(state.table), `table ip ${state.table} {\n`];
  out.push(`\tcomment ${quote(state.comment)}\n`);
  for (const { set, elements } of lists.sets) {
    out.push(`\n\tset ${set.name} {\n`, ...setHeader(set).map((l) => `\t\t${l}\n`));
    if (elements.length > 0) out.push(elementBlock(elements));
    out.push("\t}\n");
  }
  for (const { map, elements } of lists.maps) {
    out.push(`\n\tmap ${map.name} {\n`, ...mapHeader(map).map((l) => `\t\t${l}\n`));
    if (elements.length > 0) out.push(elementBlock(elements));
    out.push("\t}\n");
  }
  for (const chain of lists.chains) {
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
 * proportional to the change otherwise (for states built with one cache, so is the work).
 * When the change touches something nftables cannot alter in place (the table's comment, a
 * base chain's hook, the definition of a map or set that stays, such as an affinity
 * timeout), it is
 * {@linkcode renderFull} of `next`.
 */
export function renderDiff(old: ProxyState, next: ProxyState): string {
  if (needsFullRender(old, next)) return renderFull(next);
  const diff = diffProxyStates(old, next);
  const t = `ip ${next.table}`;
  const head: string[] = [];
  const body: string[] = [];
  const tail: string[] = [];

  for (const set of diff.newSets) {
    head.push(`add set ${t} ${set.name} { ${setHeader(set).join(" ")} }`);
  }
  for (const map of diff.newMaps) {
    head.push(`add map ${t} ${map.name} { ${mapHeader(map).join(" ")} }`);
  }
  for (const { chain, isNew } of diff.chains) {
    if (!isNew) body.push(`flush chain ${t} ${chain.name}`);
    else if (chain.comment === undefined) head.push(`add chain ${t} ${chain.name}`);
    else head.push(`add chain ${t} ${chain.name} { comment ${quote(chain.comment)}; }`);
    for (const rule of chain.rules) body.push(`add rule ${t} ${chain.name} ${rule}`);
  }
  for (const { name, deleted, added } of diff.elements) {
    if (deleted.length > 0) body.push(`delete element ${t} ${name} { ${deleted.join(", ")} }`);
    if (added.length > 0) body.push(`add element ${t} ${name} { ${added.join(", ")} }`);
  }
  for (const name of diff.goneChains) tail.push(`flush chain ${t} ${name}`);
  for (const name of diff.goneChains) tail.push(`delete chain ${t} ${name}`);
  for (const name of diff.goneSets) tail.push(`delete set ${t} ${name}`);
  for (const name of diff.goneMaps) tail.push(`delete map ${t} ${name}`);
  const lines = [...head, ...body, ...tail];
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/**
 * True when going from `old` to `next` touches something nftables cannot change in place,
 * so {@linkcode renderDiff} falls back to {@linkcode renderFull}.
 */
export function needsFullRender(old: ProxyState, next: ProxyState): boolean {
  return needsReplace(old, next);
}

function setHeader(set: Omit<ProxySet, "elements">): string[] {
  const lines = [`type ${set.type};`];
  if (set.flags.length > 0) lines.push(`flags ${set.flags.join(",")};`);
  if (set.timeoutSeconds !== undefined) lines.push(`timeout ${set.timeoutSeconds}s;`);
  if (set.comment !== undefined) lines.push(`comment ${quote(set.comment)};`);
  return lines;
}

function mapHeader(map: ProxyMapDefinition): string[] {
  const lines = [`${map.typeof ? "typeof" : "type"} ${map.type};`];
  if (map.comment !== undefined) lines.push(`comment ${quote(map.comment)};`);
  return lines;
}

function elementBlock(elements: readonly string[]): string {
  return `\t\telements = {\n\t\t\t${elements.join(",\n\t\t\t")}\n\t\t}\n`;
}

/** Comments come from validated names only; a quote or newline here is a programming error. */
function quote(s: string): string {
  if (/["\\\n\r]/.test(s)) throw new Error(`Cannot render nft comment: ${JSON.stringify(s)}`);
  return `"${s}"`;
}
