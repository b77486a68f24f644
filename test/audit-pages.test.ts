// The audit log's pages are index range reads in the pages' order (migration 0024, docs/AUDIT.md "Paging"): every
// query a page or an export batch runs (a repository's, a namespace's, the whole registry's; with and without a
// performer and kind filter; the first page and one continued from a next_page token) plans as a read of the scope's
// index bounded by the time range, with no sort (SQLite: no "USE TEMP B-TREE FOR ORDER BY"; PostgreSQL, after
// ANALYZE of 20,000 entries: no Sort node, an Index Scan Backward of the scope's index, as planned for the unfiltered
// pages and with enable_sort off for all). Paging is keyset paging in
// (created_at, id) order: entries whose ids are not in time order (replicas flush their buffers apart) and groups of
// equal times split across page boundaries come out newest first, each once, none missing, with the filters held,
// also while newer entries are written between pages; the export's batches likewise. SQLite and PostgreSQL, real
// databases.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CompiledQuery,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';
import { openDatabase, type OpenedDatabase } from '../src/db/database.ts';
import { AuditLog } from '../src/services/audit/log.ts';
import { AuditQueries, type LogFilter, type LogScope } from '../src/services/audit/query.ts';

const N = 20_000;
/** Seven entries per time, and ids in another order than times: entry i is the (i·7919 mod N)-th in time. */
const T0 = Date.UTC(2026, 11, 1);
const atOf = (i: number) => T0 + Math.floor(((i * 7919) % N) / 7) * 1000;
const nsOf = (i: number) => `ns${i % 8}`;
const repoOf = (i: number) => (i % 10 === 9 ? null : `${nsOf(i)}/app${(i >> 3) % 4}`);
const performerOf = (i: number) => `user${i % 5}`;
const kindOf = (i: number) => (i % 3 === 0 ? 'push_repo' : i % 10 === 9 ? 'org_create_team' : 'pull_repo');
const RANGE: LogFilter = { start: T0, end: T0 + 86_400_000 };

/** The SELECTs a handle runs, kept to be compiled again for EXPLAIN. */
class Recorder implements KyselyPlugin {
  selects: PluginTransformQueryArgs[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'SelectQueryNode') this.selects.push(args);
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

type Entry = { n: number; id: number; at: number; namespace: string; repository: string | null; performer: string; kind: string };

for (const dialect of await testDialects()) {
  describe(`audit pages (${dialect})`, () => {
    let opened: OpenedDatabase;
    let log: AuditLog;
    let entries: Entry[];
    let drop: (() => Promise<void>) | undefined;
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-audit-pages-'));

    before(async () => {
      const pg = dialect === 'postgres' ? await createPostgresDatabase() : undefined;
      drop = pg?.drop;
      opened = await openDatabase(
        pg ? { kind: 'postgres', uri: pg.uri, maxConnections: 4 } : { kind: 'sqlite', file: path.join(dir, 'berth.db') },
      );
      log = new AuditLog(opened.db, { dialect, enabled: true, flushMs: 60_000, batchSize: 1_000_000, retentionDays: 0 });
      for (let i = 0; i < N; i++)
        log.record({
          kind: kindOf(i) as 'pull_repo',
          namespace: nsOf(i),
          repository: repoOf(i),
          performer: { kind: 'user', name: performerOf(i) },
          metadata: { n: i },
          at: atOf(i),
        });
      await log.flush();
      const rows = await opened.db.selectFrom('audit_log').select(['id', 'metadata']).execute();
      assert.equal(rows.length, N);
      entries = rows.map((r) => {
        const n = (JSON.parse(r.metadata) as { n: number }).n;
        return { n, id: Number(r.id), at: atOf(n), namespace: nsOf(n), repository: repoOf(n), performer: performerOf(n), kind: kindOf(n) };
      });
      if (dialect === 'postgres') await opened.db.executeQuery(CompiledQuery.raw('analyze audit_log'));
    });
    after(async () => {
      await log?.close();
      await opened?.close();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The nodes of PostgreSQL's plan for `c` (with sorting priced out when `noSort`). */
    async function pgPlan(c: CompiledQuery, noSort: boolean): Promise<Record<string, unknown>[]> {
      const json = await opened.db.transaction().execute(async (tx) => {
        if (noSort) await tx.executeQuery(CompiledQuery.raw('set local enable_sort = off'));
        return (await tx.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${c.sql}`, [...c.parameters])))
          .rows[0]['QUERY PLAN'];
      });
      const nodes: Record<string, unknown>[] = [];
      const visit = (n: Record<string, unknown>) => {
        nodes.push(n);
        for (const k of (n.Plans as Record<string, unknown>[] | undefined) ?? []) visit(k);
      };
      visit((json as { Plan: Record<string, unknown> }[])[0].Plan);
      return nodes;
    }

    /** What a walk over every page must give: the entries `scope` and `f` select, newest first by (time, id). */
    const expected = (scope: LogScope, f: LogFilter) =>
      entries
        .filter(
          (e) =>
            e.at >= f.start &&
            e.at < f.end &&
            ('repository' in scope ? e.repository === scope.repository : 'namespace' in scope ? e.namespace === scope.namespace : true) &&
            (!f.performer || e.performer === f.performer) &&
            (!f.kinds || f.kinds.includes(e.kind)),
        )
        .sort((a, b) => b.at - a.at || b.id - a.id)
        .map((e) => e.n);

    /** Every page of a lookup, following next_page; the entries' n, and how many page boundaries split equal times. */
    async function walk(q: AuditQueries, scope: LogScope, f: LogFilter, limit?: number, between?: () => Promise<void>) {
      const got: number[] = [];
      let token: string | undefined;
      let splits = 0;
      for (let pages = 0; ; pages++) {
        assert.ok(pages <= N, 'the walk ends');
        const page = await q.lookup(scope, f, token, limit);
        const ns = page.logs.map((l) => (l.metadata as { n: number }).n);
        if (got.length && ns.length && atOf(got[got.length - 1]) === atOf(ns[0])) splits++;
        got.push(...ns);
        token = page.next_page;
        if (!token) return { got, splits };
        await between?.();
      }
    }

    const SCOPES: [string, LogScope, string][] = [
      ['repository', { repository: 'ns5/app1' }, 'audit_log_repository'],
      ['namespace', { namespace: 'ns3' }, 'audit_log_namespace'],
      ['whole registry', { all: true }, 'audit_log_time'],
    ];
    const FILTERS: [string, Omit<LogFilter, 'start' | 'end'>][] = [
      ['no filter', {}],
      ['performer and kind', { performer: 'user2', kinds: ['pull_repo', 'push_repo'] }],
    ];

    test('every page and export batch query reads its scope index in order, bounded by the range: no sort', async () => {
      const recorder = new Recorder();
      const q = new AuditQueries(opened.db.withPlugin(recorder), log);
      const checked: string[] = [];
      const wrong: string[] = [];
      const check = (ok: boolean, what: string) => {
        if (!ok) wrong.push(what);
      };
      for (const [scopeName, scope, index] of SCOPES)
        for (const [filterName, extra] of FILTERS) {
          const f = { ...RANGE, ...extra };
          for (const what of ['first page', 'next page', 'export batch'] as const) {
            recorder.selects = [];
            if (what === 'export batch') {
              for await (const _ of q.exportLines(scope, f)) break;
            } else {
              const first = await q.lookup(scope, f);
              assert.ok(first.next_page, `${scopeName}, ${filterName}: more than one page`);
              if (what === 'next page') {
                recorder.selects = [];
                await q.lookup(scope, f, first.next_page);
              }
            }
            const label = `${scopeName}, ${filterName}, ${what}`;
            const pageQueries = recorder.selects
              .map((s) => opened.db.getExecutor().compileQuery(s.node, s.queryId))
              .filter((c) => /from "audit_log"/.test(c.sql));
            assert.equal(pageQueries.length, 1, `${label}: one query of audit_log`);
            const c = pageQueries[0];
            if (dialect === 'sqlite') {
              const plan = (
                await opened.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${c.sql}`, [...c.parameters]))
              ).rows.map((r) => r.detail);
              const scoped = 'all' in scope ? '' : `${'repository' in scope ? 'repository' : 'namespace'}=\\? AND `;
              const want = new RegExp(`^SEARCH audit_log USING INDEX ${index} \\(${scoped}created_at>\\? AND created_at<\\?\\)$`);
              check(want.test(plan.join(' | ')), `${label}: ${plan.join(' | ')}`);
            } else {
              // At this size the planner may sort a filtered result it expects to be small (cheaper than walking the
              // index); pages with more entries than the page (unfiltered) must not sort as planned. With sorting
              // priced out, every query must still find an index read that gives its order: main's could not.
              const settings =
                filterName === 'no filter' && what !== 'export batch' ? ['as planned', 'enable_sort off'] : ['enable_sort off'];
              for (const setting of settings) {
                const nodes = await pgPlan(c, setting === 'enable_sort off');
                const shape = nodes.map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`).join(' > ');
                const scan = nodes.find((n) => n['Relation Name'] === 'audit_log');
                const cond = String(scan?.['Index Cond']);
                check(
                  !nodes.some((n) => /Sort/.test(String(n['Node Type']))) &&
                    scan?.['Node Type'] === 'Index Scan' &&
                    scan['Index Name'] === index &&
                    scan['Scan Direction'] === 'Backward' &&
                    // The range (and the scope) bound the index read; a continued page starts at its position.
                    /created_at >= /.test(cond) &&
                    (what === 'next page' ? /created_at <= / : /created_at < /).test(cond) &&
                    ('all' in scope || ('repository' in scope ? /repository = / : /namespace = /).test(cond)),
                  `${label} (${setting}): ${shape} (${cond})`,
                );
              }
            }
            checked.push(label);
          }
        }
      assert.equal(checked.length, 18);
      assert.deepEqual(wrong, [], 'each page query reads its index in order, bounded by the range, without a sort');
    });

    test('paging: newest first by (time, id), every entry once across boundaries inside equal times; filters held', async () => {
      const q = new AuditQueries(opened.db, log);
      const cases: [LogScope, LogFilter, number | undefined][] = [
        [{ repository: 'ns5/app1' }, RANGE, undefined],
        [{ namespace: 'ns3' }, { ...RANGE, performer: 'user2' }, undefined],
        [{ namespace: 'ns1' }, { ...RANGE, kinds: ['push_repo', 'org_create_team'] }, 7],
        [{ namespace: 'ns6' }, { start: T0 + 500_500, end: T0 + 1_500_000 }, 9],
        [{ repository: 'ns0/app3' }, { start: T0 + 1_000_000, end: T0 + 1_300_000 }, 3],
        [{ all: true }, { ...RANGE, kinds: ['org_create_team'] }, undefined],
      ];
      for (const [scope, f, limit] of cases) {
        const want = expected(scope, f);
        assert.ok(want.length > (limit ?? 20), `${JSON.stringify(scope)} ${JSON.stringify(f)} spans pages`);
        const { got } = await walk(q, scope, f, limit);
        assert.deepEqual(got, want, `${JSON.stringify(scope)} ${JSON.stringify(f)}`);
      }
    });

    test('the whole registry in pages of 50 while newer entries arrive, and exported in batches of 1000: each entry once, in order', async () => {
      const q = new AuditQueries(opened.db, log);
      const want = expected({ all: true }, RANGE);
      let later = 0;
      const { got, splits } = await walk(q, { all: true }, RANGE, 50, async () => {
        if (later >= 60) return;
        // Newer than every page read so far: not on a later page, and nothing read twice.
        for (let k = 0; k < 3; k++, later++)
          log.record({
            kind: 'pull_repo',
            repository: 'ns0/app0',
            performer: { kind: 'anonymous' },
            metadata: { n: -1 },
            at: T0 + 80_000_000 + later,
          });
        await log.flush();
      });
      assert.equal(later, 60);
      assert.equal(got.length, N);
      assert.deepEqual(got, want);
      assert.ok(splits > 10, `page boundaries inside equal times: ${splits}`);

      const lines: { id: number; metadata: { n: number } }[] = [];
      for await (const line of q.exportLines({ all: true }, { ...RANGE, end: T0 + 80_000_000 })) lines.push(JSON.parse(line));
      assert.deepEqual(
        lines.map((l) => l.metadata.n),
        want,
      );
      const byN = new Map(entries.map((e) => [e.n, e.id]));
      assert.deepEqual(
        lines.map((l) => l.id),
        want.map((n) => byN.get(n)),
      );
    });
  });
}
