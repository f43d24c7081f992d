/**
 * What changed between two {@linkcode ProxyState}s, as data for `nft_render.ts` (pure).
 *
 * For states {@linkcode buildProxyState} made, only the service slices that differ are
 * compared: by reference first (a state built with a cache reuses the slices of unchanged
 * services, and knows which services it re-merged), then element by element. A map element
 * belongs to one slice, so the changed slices of both states hold every change to it;
 * shared elements (clusterIPs, hairpin pairs, `pick-*` chains and their maps) are looked
 * up in the other state's counts. Any other state is compared in full. Both ways give the
 * same {@linkcode ProxyDiff}, in table order.
 *
 * @module
 */

import {
  CLUSTER_IPS,
  eachElement,
  HAIRPIN,
  hairpinPair,
  mapDefinitions,
  pickChains,
  type ProxyChain,
  type ProxyMapDefinition,
  type ProxyParts,
  proxyParts,
  type ProxySet,
  type ProxyState,
  type ServiceSlice,
  sliceOf,
} from "./proxy_model.ts";

/** Element changes of one map or set. */
export interface ElementChanges {
  name: string;
  /** keys (maps) or elements (sets) to delete */
  deleted: string[];
  /** `key : value` (maps) or elements (sets) to add */
  added: string[];
}

/** The changes that turn one state into another, each list in table order. */
export interface ProxyDiff {
  /** sets to create */
  newSets: ProxySet[];
  /** maps to create */
  newMaps: ProxyMapDefinition[];
  /** chains to create (`isNew`) or to empty and refill, with their rules */
  chains: { chain: ProxyChain; isNew: boolean }[];
  /** maps first, then sets; only those with changes */
  elements: ElementChanges[];
  /** chains nothing refers to any more */
  goneChains: string[];
  goneSets: string[];
  goneMaps: string[];
}

/**
 * True when going from `old` to `next` touches something nftables cannot change in place
 * (the table's comment, a base chain's hook, a chain's comment, a map or set definition such
 * as an affinity timeout), so the table must be replaced as a whole.
 */
export function needsReplace(old: ProxyState, next: ProxyState): boolean {
  if (old.table !== next.table || old.comment !== next.comment) return true;
  const o = proxyParts(old);
  const n = proxyParts(next);
  if (o && n) return partsNeedReplace(o, n);
  for (const chain of next.chains.values()) {
    const before = old.chains.get(chain.name);
    if (before ? !sameChainHead(before, chain) : chain.base !== undefined) return true;
  }
  for (const chain of old.chains.values()) {
    if (chain.base && !next.chains.has(chain.name)) return true;
  }
  for (const map of next.maps.values()) {
    const before = old.maps.get(map.name);
    if (before && !sameMapHead(before, map)) return true;
  }
  for (const set of next.sets.values()) {
    const before = old.sets.get(set.name);
    if (before && !sameSetHead(before, set)) return true;
  }
  return false;
}

/** The changes from `old` to `next` (meaningful when {@linkcode needsReplace} is false). */
export function diffProxyStates(old: ProxyState, next: ProxyState): ProxyDiff {
  const o = proxyParts(old);
  const n = proxyParts(next);
  return o && n ? diffParts(o, n) : diffContent(old, next);
}

/** Two chains with the same name, comment and hook. */
export function sameChainHead(a: ProxyChain, b: ProxyChain): boolean {
  if (a.comment !== b.comment) return false;
  if (!a.base || !b.base) return a.base === b.base;
  return a.base.type === b.base.type && a.base.hook === b.base.hook &&
    a.base.priority === b.base.priority;
}

/** Two maps with the same definition (elements aside). */
export function sameMapHead(a: ProxyMapDefinition, b: ProxyMapDefinition): boolean {
  return a.type === b.type && a.typeof === b.typeof && a.comment === b.comment;
}

/** Two sets with the same definition (elements aside). */
export function sameSetHead(a: ProxySet, b: ProxySet): boolean {
  return a.type === b.type && a.timeoutSeconds === b.timeoutSeconds &&
    a.comment === b.comment && a.flags.join(",") === b.flags.join(",");
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((rule, i) => rule === b[i]);
}

/** Adds `chain` to `out` unless `before` has the same rules. */
function chainChange(
  out: ProxyDiff["chains"],
  before: ProxyChain | undefined,
  chain: ProxyChain,
): void {
  if (before === chain || (before && sameRules(before.rules, chain.rules))) return;
  out.push({ chain, isNew: !before });
}

function emptyDiff(): ProxyDiff {
  return {
    newSets: [],
    newMaps: [],
    chains: [],
    elements: [],
    goneChains: [],
    goneSets: [],
    goneMaps: [],
  };
}

function diffContent(old: ProxyState, next: ProxyState): ProxyDiff {
  const diff = emptyDiff();
  for (const set of next.sets.values()) if (!old.sets.has(set.name)) diff.newSets.push(set);
  for (const map of next.maps.values()) {
    if (!old.maps.has(map.name)) {
      const { elements: _, ...def } = map;
      diff.newMaps.push(def);
    }
  }
  for (const chain of next.chains.values()) {
    chainChange(diff.chains, old.chains.get(chain.name), chain);
  }
  for (const map of next.maps.values()) {
    const before = old.maps.get(map.name)?.elements ?? new Map<string, string>();
    const changes: ElementChanges = { name: map.name, deleted: [], added: [] };
    for (const [k, v] of before) if (map.elements.get(k) !== v) changes.deleted.push(k);
    for (const [k, v] of map.elements) if (before.get(k) !== v) changes.added.push(`${k} : ${v}`);
    if (changes.deleted.length > 0 || changes.added.length > 0) diff.elements.push(changes);
  }
  for (const set of next.sets.values()) {
    const before = old.sets.get(set.name)?.elements ?? new Set<string>();
    const changes: ElementChanges = { name: set.name, deleted: [], added: [] };
    for (const e of before) if (!set.elements.has(e)) changes.deleted.push(e);
    for (const e of set.elements) if (!before.has(e)) changes.added.push(e);
    if (changes.deleted.length > 0 || changes.added.length > 0) diff.elements.push(changes);
  }
  diff.goneChains = [...old.chains.keys()].filter((name) => !next.chains.has(name));
  diff.goneSets = [...old.sets.keys()].filter((name) => !next.sets.has(name));
  diff.goneMaps = [...old.maps.keys()].filter((name) => !next.maps.has(name));
  return diff;
}

/** The slices of the services whose slices differ between `o` and `n`, in key order. */
function changedSlices(
  o: ProxyParts,
  n: ProxyParts,
): { before: ServiceSlice[]; after: ServiceSlice[] } {
  const before: ServiceSlice[] = [];
  const after: ServiceSlice[] = [];
  if (n.base?.id === o.id) {
    for (const key of n.base.changed) {
      const a = sliceOf(o, key);
      const b = sliceOf(n, key);
      if (a === b) continue;
      if (a) before.push(a);
      if (b) after.push(b);
    }
    return { before, after };
  }
  let i = 0;
  let j = 0;
  while (i < o.keys.length || j < n.keys.length) {
    const a = o.keys[i];
    const b = n.keys[j];
    if (b === undefined || (a !== undefined && a < b)) before.push(o.slices[i++]!);
    else if (a === undefined || b < a) after.push(n.slices[j++]!);
    else {
      if (o.slices[i] !== n.slices[j]) {
        before.push(o.slices[i]!);
        after.push(n.slices[j]!);
      }
      i++;
      j++;
    }
  }
  return { before, after };
}

function fixedByName(parts: ProxyParts): Map<string, ProxyChain> {
  return new Map(parts.fixedChains.map((c) => [c.name, c]));
}

function partsNeedReplace(o: ProxyParts, n: ProxyParts): boolean {
  const oldFixed = fixedByName(o);
  for (const chain of n.fixedChains) {
    const before = oldFixed.get(chain.name);
    if (before ? !sameChainHead(before, chain) : chain.base !== undefined) return true;
  }
  const nextFixed = fixedByName(n);
  for (const chain of o.fixedChains) {
    if (chain.base && !nextFixed.has(chain.name)) return true;
  }
  const { after } = changedSlices(o, n);
  for (const slice of after) {
    for (const chain of slice.chains) {
      const before = o.chains.get(chain.name) ?? oldFixed.get(chain.name);
      if (before ? !sameChainHead(before, chain) : chain.base !== undefined) return true;
    }
    for (const set of slice.sets) {
      const before = o.sets.get(set.name);
      if (before && !sameSetHead(before, set)) return true;
    }
  }
  return false;
}

function diffParts(o: ProxyParts, n: ProxyParts): ProxyDiff {
  const diff = emptyDiff();
  const { before, after } = changedSlices(o, n);

  for (const slice of after) {
    for (const set of slice.sets) if (!o.sets.has(set.name)) diff.newSets.push(set);
  }
  const oldMaps = new Map(mapDefinitions(o).map((m) => [m.name, m]));
  const nextMaps = mapDefinitions(n);
  for (const map of nextMaps) if (!oldMaps.has(map.name)) diff.newMaps.push(map);

  const oldFixed = fixedByName(o);
  for (const chain of n.fixedChains) chainChange(diff.chains, oldFixed.get(chain.name), chain);
  const oldPicks = new Map(pickChains(o).map((c) => [c.name, c]));
  for (const chain of pickChains(n)) chainChange(diff.chains, oldPicks.get(chain.name), chain);
  for (const slice of after) {
    for (const chain of slice.chains) chainChange(diff.chains, o.chains.get(chain.name), chain);
  }

  // Map elements belong to one slice each: a key that changed or left is in a changed slice
  // of `o`, and where it went (if anywhere) is a changed slice of `n`.
  const elementsOf = (slices: readonly ServiceSlice[]) => {
    const byMap = new Map<string, Map<string, string>>();
    for (const slice of slices) {
      eachElement(slice, (name, key, value) => {
        let map = byMap.get(name);
        if (!map) byMap.set(name, map = new Map());
        map.set(key, value);
      });
    }
    return byMap;
  };
  const was = elementsOf(before);
  const is = elementsOf(after);
  for (const map of nextMaps) {
    const changes: ElementChanges = { name: map.name, deleted: [], added: [] };
    const a = was.get(map.name);
    const b = is.get(map.name);
    for (const [k, v] of a ?? []) if (b?.get(k) !== v) changes.deleted.push(k);
    for (const [k, v] of b ?? []) if (a?.get(k) !== v) changes.added.push(`${k} : ${v}`);
    if (changes.deleted.length > 0 || changes.added.length > 0) diff.elements.push(changes);
  }
  const counted = (
    name: string,
    of: (s: ServiceSlice) => readonly string[],
    was: ProxyParts["clusterIPs"],
    is: ProxyParts["clusterIPs"],
    element: (e: string) => string,
  ) => {
    const deleted = new Set<string>();
    const added = new Set<string>();
    for (const slice of before) for (const e of of(slice)) if (!is.has(e)) deleted.add(e);
    for (const slice of after) for (const e of of(slice)) if (!was.has(e)) added.add(e);
    if (deleted.size > 0 || added.size > 0) {
      diff.elements.push({
        name,
        deleted: [...deleted].map(element),
        added: [...added].map(element),
      });
    }
  };
  counted(CLUSTER_IPS, (s) => s.clusterIPs, o.clusterIPs, n.clusterIPs, (ip) => ip);
  counted(HAIRPIN, (s) => s.hairpin, o.hairpin, n.hairpin, hairpinPair);

  for (const chain of oldPicks.values()) {
    if (!n.picks.has(chain.name)) diff.goneChains.push(chain.name);
  }
  for (const slice of before) {
    for (const chain of slice.chains) {
      if (!n.chains.has(chain.name)) diff.goneChains.push(chain.name);
    }
    for (const set of slice.sets) if (!n.sets.has(set.name)) diff.goneSets.push(set.name);
  }
  const nextMapNames = new Set(nextMaps.map((m) => m.name));
  for (const name of oldMaps.keys()) if (!nextMapNames.has(name)) diff.goneMaps.push(name);
  return diff;
}
