// What an updater is: a tiny plug-in with one job, turning one upstream source into normalized
// Advisory records (claircore's shape). Every updater can
//
//   fetch({ baseUrl?, proxy?, signal?, previous? })  -> { unchanged, fingerprint, records }
//   parse(fileOrDirOrUrlOrBytesOrStream)             -> { fingerprint, records }
//
// `records` is an async iterable read lazily from local files (a download is complete before the
// first record), so the store can consume it in one pass without the data set ever being in
// memory. `fingerprint` identifies the upstream content (HTTP validators plus a content hash for
// fetches; `sha256:<hex>` for parsed input) and is stored with the data set; passing it back as
// `previous` turns the next fetch into conditional requests, and an unchanged upstream costs
// neither a download nor any database work. `close()` removes temp files (call it when done).
//
// `defineUpdater` below supplies fetch and parse for the common case, so an updater module only
// says where its files are (`urls`) and how to read them (`read`).
import type { Advisory } from '../model.js';
import {
  AIRGAP_MESSAGE,
  fetchSources,
  httpClient,
  joinUrl,
  materialize,
  undici,
  UpdaterError,
  type FetchOptions,
  type Http,
  type LocalSource,
  type ParseInput,
} from './fetcher.js';
import { rm } from 'node:fs/promises';
import type { fetch as UndiciFetch } from 'undici';

export type { FetchOptions, LocalSource, ParseInput } from './fetcher.js';
export { UpdaterError } from './fetcher.js';

export interface UpdateData {
  fingerprint: string;
  records: AsyncIterable<Advisory>;
  /** Removes the temp files behind `records`. */
  close(): Promise<void>;
}

export type FetchResult = { unchanged: true; fingerprint: string } | ({ unchanged: false } & UpdateData);

export interface ParseOptions {
  tmpDir?: string;
  /** Used only when the input is an http(s) URL. */
  proxy?: string;
  signal?: AbortSignal;
}

export interface Updater {
  /** Unique, stable name: the key of its data set in the store and in bundles. */
  readonly name: string;
  readonly description: string;
  /** The upstream URL it fetches by default (the first one, when there are several). */
  readonly defaultUrl: string;
  /** The base URL that `baseUrl` replaces. */
  readonly defaultBase: string;
  /** Whether a default configuration runs it. */
  readonly enabledByDefault: boolean;
  fetch(opts?: FetchOptions): Promise<FetchResult>;
  parse(input: ParseInput, opts?: ParseOptions): Promise<UpdateData>;
}

export interface ReadContext {
  updater: string;
}

export interface UpdaterSpec {
  name: string;
  description: string;
  defaultBase: string;
  enabledByDefault: boolean;
  /** Relative paths (or absolute URLs) of the default files under the base; the first is `defaultUrl`. */
  defaultPaths: string[];
  /**
   * The URLs to fetch for a base URL. Defaults to `defaultPaths` under the base. May ask the
   * server first (Red Hat's archive_latest.txt names the current archive).
   */
  urls?(base: string, ctx: { http: Http; opts: FetchOptions; getText(url: string): Promise<string> }): Promise<string[]>;
  /** URLs allowed to be missing (HTTP 404): they are left out. */
  optional?(url: string): boolean;
  /** Reads local files (downloaded or given) into records. Throws on malformed input. */
  read(sources: LocalSource[], ctx: ReadContext): AsyncIterable<Advisory>;
}

/** Wraps a reader: every record gets the updater's name; errors name the updater. */
async function* labelled(spec: UpdaterSpec, sources: LocalSource[]): AsyncGenerator<Advisory> {
  try {
    for await (const a of spec.read(sources, { updater: spec.name })) {
      a.updater = spec.name;
      yield a;
    }
  } catch (err) {
    if (err instanceof UpdaterError) throw err;
    throw new UpdaterError(spec.name, (err as Error).message, { cause: err });
  }
}

export function defineUpdater(spec: UpdaterSpec): Updater {
  return {
    name: spec.name,
    description: spec.description,
    defaultBase: spec.defaultBase,
    defaultUrl: /^https?:/.test(spec.defaultPaths[0]) ? spec.defaultPaths[0] : joinUrl(spec.defaultBase, spec.defaultPaths[0]),
    enabledByDefault: spec.enabledByDefault,

    async fetch(opts: FetchOptions = {}): Promise<FetchResult> {
      if (opts.airgap) throw new UpdaterError(spec.name, AIRGAP_MESSAGE);
      const base = opts.baseUrl ?? spec.defaultBase;
      const http = httpClient(opts.proxy);
      try {
        const getText = async (url: string) => {
          let res: Awaited<ReturnType<typeof UndiciFetch>>;
          try {
            res = await undici().fetch(url, {
              dispatcher: http.dispatcher,
              signal: opts.signal,
              headers: { 'user-agent': 'berth-scanner-updater' },
            });
          } catch (err) {
            throw new UpdaterError(spec.name, `GET ${url} failed: ${(err as Error).message}`, { cause: err });
          }
          if (res.status !== 200) {
            await res.body?.cancel().catch(() => {});
            throw new UpdaterError(spec.name, `GET ${url}: HTTP ${res.status} ${res.statusText}`);
          }
          return res.text();
        };
        const urls = spec.urls
          ? await spec.urls(base, { http, opts, getText })
          : spec.defaultPaths.map((p) => (/^https?:/.test(p) ? p : joinUrl(base, p)));
        const got = await fetchSources(spec.name, urls, { ...opts, http, optional: spec.optional });
        if (got.unchanged) return { unchanged: true, fingerprint: got.fingerprint };
        const dir = got.dir;
        return {
          unchanged: false,
          fingerprint: got.fingerprint,
          records: labelled(spec, got.sources),
          close: () => rm(dir, { recursive: true, force: true }),
        };
      } finally {
        await http.close().catch(() => {});
      }
    },

    async parse(input: ParseInput, opts: ParseOptions = {}): Promise<UpdateData> {
      const m = await materialize(spec.name, input, opts);
      return { fingerprint: m.fingerprint, records: labelled(spec, m.sources), close: m.close };
    },
  };
}
