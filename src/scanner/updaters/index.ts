// The updaters: one list, one plug-in per upstream source (see ./updater.ts for the contract).
//
// Adding a source is one module exporting an Updater (usually through `defineUpdater`) and one
// line in `updaters` below. Names are stable: they key each data set in the store and in bundles.
import type { AdvisoryStore, ReplaceResult } from '../store.js';
import type { FetchOptions, ParseInput } from './fetcher.js';
import { alpineSecdbUpdater } from './alpine-secdb.js';
import { debianTrackerUpdater } from './debian-tracker.js';
import { osvUpdater } from './osv.js';
import { redhatCsafUpdater } from './redhat-csaf.js';
import type { ParseOptions, Updater } from './updater.js';

export type { FetchResult, ParseOptions, UpdateData, Updater } from './updater.js';
export { UpdaterError, defineUpdater } from './updater.js';
export type { FetchOptions, ParseInput } from './fetcher.js';
export { alpineSecdbUpdater, debianTrackerUpdater, osvUpdater, redhatCsafUpdater };

/** The one list. */
export const updaters: readonly Updater[] = [
  alpineSecdbUpdater(),
  debianTrackerUpdater(),
  redhatCsafUpdater(),
  osvUpdater({ ecosystem: 'PyPI', enabledByDefault: true }),
  osvUpdater({ ecosystem: 'npm', enabledByDefault: true }),
  osvUpdater({ ecosystem: 'Go', enabledByDefault: true }),
  osvUpdater({ ecosystem: 'Maven', enabledByDefault: true }),
  osvUpdater({ ecosystem: 'Ubuntu', enabledByDefault: true }),
  // The same Debian and Alpine data as the tracker and secdb, in OSV form: off unless chosen.
  osvUpdater({ ecosystem: 'Debian' }),
  osvUpdater({ ecosystem: 'Alpine' }),
  osvUpdater({ ecosystem: 'Rocky Linux', name: 'osv-rocky' }),
  osvUpdater({ ecosystem: 'AlmaLinux', name: 'osv-almalinux' }),
  // Custom OSV input in any ecosystem (a directory, a zip, a mirror's all.zip).
  osvUpdater(),
];

{
  const seen = new Set<string>();
  for (const u of updaters) {
    if (seen.has(u.name)) throw new Error(`updater ${u.name} registered twice`);
    seen.add(u.name);
  }
}

export function getUpdater(name: string): Updater {
  const u = updaters.find((x) => x.name === name);
  if (!u) throw new Error(`no updater named "${name}" (known: ${updaters.map((x) => x.name).join(', ')})`);
  return u;
}

export type RunResult = { unchanged: true; updater: string; fingerprint: string } | ({ unchanged: false } & ReplaceResult);

/**
 * One update of one updater: a conditional fetch against the stored fingerprint; when upstream
 * changed, the updater's whole data set is replaced in one transaction. An unchanged upstream
 * only records that it was checked.
 */
export async function runUpdater(store: AdvisoryStore, updater: Updater, opts: Omit<FetchOptions, 'previous'> = {}): Promise<RunResult> {
  const previous = (await store.updaterStatus()).find((s) => s.name === updater.name)?.fingerprint ?? null;
  const res = await updater.fetch({ ...opts, previous });
  if (res.unchanged) {
    await store.markChecked(updater.name, res.fingerprint);
    return { unchanged: true, updater: updater.name, fingerprint: res.fingerprint };
  }
  try {
    const r = await store.replaceUpdater(updater.name, res.fingerprint, res.records);
    return { unchanged: false, ...r };
  } finally {
    await res.close();
  }
}

/** Imports local input (file, directory, URL, bytes or stream) as the updater's whole data set. */
export async function importUpdater(
  store: AdvisoryStore,
  updater: Updater,
  input: ParseInput,
  opts: ParseOptions = {},
): Promise<ReplaceResult> {
  const data = await updater.parse(input, opts);
  try {
    return await store.replaceUpdater(updater.name, data.fingerprint, data.records);
  } finally {
    await data.close();
  }
}
