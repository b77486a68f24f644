// Repositories: search, paging, create; one repository's tags (kind, platforms, size, pull command; move, delete;
// the server's tag history with restore), Helm charts, settings (description, visibility, permissions) and delete.
import { useEffect, useMemo, useState } from 'react';
import { RepoSize, type QuotaReport } from './quota';
import {
  api,
  ApiError,
  enc,
  formatBytes,
  kindLabel,
  platformLabel,
  repoPath,
  shortDigest,
  type Chart,
  type Repo,
  type Summary,
  type Tag,
  type User,
} from '../api';
import { Link, navigate } from '../router';
import { LogsView, NotificationsView } from './logs';
import { ImmutabilityRules, ImmutableMark, TagExpiry } from './tag-policy';
import { MirroringSection } from './mirror';
import {
  checkName,
  Command,
  ConfirmButton,
  Empty,
  ErrorBox,
  Field,
  FormError,
  Loading,
  Pager,
  Panel,
  SearchBox,
  Select,
  TableHead,
  Tabs,
  toApiError,
  useAsync,
  useForm,
} from '../ui';

const PAGE = 20;

/** True when the server has no such endpoint (as opposed to a missing object or a refusal). */
export function endpointMissing(e: ApiError | undefined, marker?: string): boolean {
  if (!e || ![400, 404, 405].includes(e.status)) return false;
  // A server without the route reads the extra path as part of a repository name.
  return /no (API |such )?endpoint|not supported here/i.test(e.message) || (!!marker && e.message.includes(marker));
}

export function ReposPage({ user }: { user: User }) {
  return (
    <>
      <h1>Repositories</h1>
      <RepoList user={user} />
      <CreateRepo user={user} />
    </>
  );
}

export function RepoList({ user, namespace }: { user: User; namespace?: string }) {
  const list = useAsync(
    () => api<{ repositories: Repo[] }>('GET', `/repository${namespace ? `?namespace=${enc(namespace)}` : ''}`),
    [namespace, user.username],
  );
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const all = list.data?.repositories ?? [];
  const filtered = all.filter((r) => `${r.namespace}/${r.name} ${r.description ?? ''}`.toLowerCase().includes(q.trim().toLowerCase()));
  const shown = filtered.slice((page - 1) * PAGE, page * PAGE);
  return (
    <section aria-label="Repository list">
      <SearchBox
        id="repo-search"
        label="Search repositories"
        value={q}
        onChange={(v) => {
          setQ(v);
          setPage(1);
        }}
        placeholder="name or description"
      />
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : filtered.length === 0 ? (
        <Empty>
          {all.length === 0
            ? 'No repositories yet. Create one below, or push an image or a chart: the first push creates the repository.'
            : `No repository matches "${q}".`}
        </Empty>
      ) : (
        <ul className="repo-list">
          {shown.map((r) => (
            <li key={`${r.namespace}/${r.name}`}>
              <Link href={`/repository/${r.namespace}/${r.name}`} className="repo-name">
                {r.namespace}/{r.name}
              </Link>
              <span className={`badge ${r.is_public ? 'public' : 'private'}`}>{r.is_public ? 'public' : 'private'}</span>
              <RepoSize report={(r as { quota_report?: QuotaReport }).quota_report} />
              {r.description ? <p className="muted">{r.description}</p> : null}
            </li>
          ))}
        </ul>
      )}
      <Pager label="Repository" page={page} hasNext={page * PAGE < filtered.length} onPage={setPage} />
    </section>
  );
}

function CreateRepo({ user }: { user: User }) {
  const namespaces = [user.username, ...user.organizations.map((o) => o.name)];
  const [ns, setNs] = useState(namespaces[0]);
  const [name, setName] = useState('');
  const [visibility, setVisibility] = useState('private');
  const [description, setDescription] = useState('');
  const f = useForm<'name' | 'namespace' | 'description'>(
    () => ({ name: checkName(name, 'repository name') }),
    async () => {
      await api('POST', '/repository', { namespace: ns, repository: name, visibility, description: description || null });
      navigate(`/repository/${ns}/${name}`);
    },
    (e) => (/namespace/.test(e.message) ? 'namespace' : /description/.test(e.message) ? 'description' : 'name'),
  );
  return (
    <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-repo">
      <h2 id="new-repo">Create a repository</h2>
      <div className="row">
        <Select
          label="Namespace"
          name="namespace"
          value={ns}
          onChange={setNs}
          options={namespaces.map((n) => [n, n])}
          error={f.errors.namespace}
        />
        <Field label="Repository name" name="repo-name" value={name} onChange={setName} error={f.errors.name} required />
      </div>
      <fieldset className="radios">
        <legend>Visibility</legend>
        <label>
          <input
            type="radio"
            name="visibility"
            value="private"
            checked={visibility === 'private'}
            onChange={() => setVisibility('private')}
          />{' '}
          Private: only people and robots you grant
        </label>
        <label>
          <input type="radio" name="visibility" value="public" checked={visibility === 'public'} onChange={() => setVisibility('public')} />{' '}
          Public: anyone may pull
        </label>
      </fieldset>
      <Field
        label="Description (optional)"
        name="description"
        value={description}
        onChange={setDescription}
        error={f.errors.description}
        maxLength={65536}
      />
      <FormError message={f.errors.form} />
      <button type="submit" className="primary" disabled={f.busy}>
        Create repository
      </button>
    </form>
  );
}

export function RepoPage({ repo, user }: { repo: string; user: User }) {
  const r = useAsync(() => api<Repo>('GET', `/repository/${repoPath(repo)}`), [repo]);
  const [tab, setTab] = useState<'tags' | 'charts' | 'settings' | 'logs' | 'notifications' | 'mirroring'>('tags');
  const [rulesVersion, setRulesVersion] = useState(0);
  if (r.loading && !r.data) return <Loading />;
  if (r.error)
    return (
      <>
        <h1>{repo}</h1>
        <ErrorBox error={r.error} />
      </>
    );
  const data = r.data!;
  const tabs: [typeof tab, string][] = [
    ['tags', 'Tags'],
    ['charts', 'Helm charts'],
  ];
  if (data.can_admin || data.can_write) tabs.push(['settings', 'Settings']);
  if (data.can_admin) tabs.push(['logs', 'Logs'], ['notifications', 'Notifications']);
  if (data.can_admin) tabs.push(['mirroring', 'Mirroring']);
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={`/organization/${enc(data.namespace)}`}>{data.namespace}</Link> /{' '}
      </nav>
      <div className="page-head">
        <h1>
          {data.namespace}/{data.name}{' '}
          <span className={`badge ${data.is_public ? 'public' : 'private'}`}>{data.is_public ? 'public' : 'private'}</span>
        </h1>
      </div>
      {data.description ? <p className="description">{data.description}</p> : null}
      <Tabs label="Repository sections" tabs={tabs} value={tab} onChange={setTab} />
      {tab === 'tags' ? (
        <Panel id="tags">
          <Tags key={rulesVersion} repo={repo} canWrite={!!data.can_write} />
          {data.can_admin ? <ImmutabilityRules repo={repo} onChanged={() => setRulesVersion((v) => v + 1)} /> : null}
        </Panel>
      ) : null}
      {tab === 'charts' ? (
        <Panel id="charts">
          <Charts repo={repo} />
        </Panel>
      ) : null}
      {tab === 'settings' ? (
        <Panel id="settings">
          <Settings repo={repo} data={data} user={user} reload={r.reload} />
        </Panel>
      ) : null}
      {tab === 'logs' ? (
        <Panel id="logs">
          <LogsView base={`/repository/${repoPath(repo)}`} title="Logs" />
        </Panel>
      ) : null}
      {tab === 'notifications' ? (
        <Panel id="notifications">
          <NotificationsView repo={repo} />
        </Panel>
      ) : null}
      {tab === 'mirroring' ? (
        <Panel id="mirroring">
          <MirroringSection repo={repo} state={data.state ?? 'NORMAL'} reload={r.reload} />
        </Panel>
      ) : null}
    </>
  );
}

/** Kind, size, platforms and chart metadata of manifests, or undefined when the server lacks the endpoint. */
export async function summaries(repo: string, digests: string[]): Promise<Record<string, Summary> | undefined> {
  if (!digests.length) return {};
  const q = new URLSearchParams({ repository: repo });
  for (const d of new Set(digests)) q.append('digest', d);
  try {
    return (await api<{ manifests: Record<string, Summary> }>('GET', `/manifestsummary?${q}`)).manifests;
  } catch (e) {
    if (endpointMissing(toApiError(e))) return undefined;
    throw e;
  }
}

export function pullCommand(repo: string, tag: string, kind: Summary['kind'] | undefined): string[] {
  const host = location.host;
  if (kind === 'helm-chart')
    return [`helm pull oci://${host}/${repo} --version ${tag}`, `berth chart pull oci://${host}/${repo} --version ${tag}`];
  return [`podman pull ${host}/${repo}:${tag}`];
}

type TagPage = { tags: Tag[]; page: number; has_additional: boolean };

/** The tag list query: page, size, Quay's filter_tag_name (like: matches any part of a name) and history. */
function tagQuery(page: number, filter: string, history = false): string {
  const q = new URLSearchParams({ limit: String(PAGE), page: String(page) });
  if (filter.trim()) q.set('filter_tag_name', `like:${filter.trim()}`);
  if (history) q.set('onlyActiveTags', 'false');
  return q.toString();
}

function Tags({ repo, canWrite }: { repo: string; canWrite: boolean }) {
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState('');
  const [moving, setMoving] = useState<Tag>();
  const [notice, setNotice] = useState<string>();
  const [historyKey, setHistoryKey] = useState(0);
  const tags = useAsync(() => api<TagPage>('GET', `/repository/${repoPath(repo)}/tag/?${tagQuery(page, filter)}`), [repo, page, filter]);
  const digests = useMemo(() => (tags.data?.tags ?? []).map((t) => t.manifest_digest), [tags.data]);
  const sums = useAsync(() => summaries(repo, digests), [repo, digests.join(',')]);
  const changed = (msg: string) => {
    setNotice(msg);
    tags.reload();
    setHistoryKey((k) => k + 1);
  };

  const del = async (t: Tag) => {
    await api('DELETE', `/repository/${repoPath(repo)}/tag/${enc(t.name)}`);
    changed(`Tag ${t.name} deleted. You can restore it from the tag history below.`);
  };

  return (
    <>
      <SearchBox
        id="tag-filter"
        label="Filter tags"
        value={filter}
        onChange={(v) => {
          setFilter(v);
          setPage(1);
        }}
        placeholder="part of a tag name"
      />
      {notice ? (
        <div className="notice" role="status">
          {notice}
        </div>
      ) : null}
      {tags.loading && !tags.data ? (
        <Loading />
      ) : tags.error ? (
        <ErrorBox error={tags.error} />
      ) : tags.data!.tags.length === 0 ? (
        <Empty>{filter ? `No tag matches "${filter}".` : 'This repository has no tags yet. Push an image or a chart to it.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="tags">
            <TableHead
              caption={`Tags of ${repo}`}
              columns={['Tag', 'Type', 'Digest', 'Size', 'Last modified', 'Expires', 'Pull']}
              actions={canWrite}
            />
            <tbody>
              {tags.data!.tags.map((t) => {
                const s = sums.data?.[t.manifest_digest];
                const kind = s?.kind ?? (sums.data === undefined && !sums.loading ? (t.is_manifest_list ? 'index' : undefined) : undefined);
                return (
                  <tr key={t.name}>
                    <th scope="row" data-label="Tag">
                      {t.name} <ImmutableMark tag={t} />
                    </th>
                    <td data-label="Type">
                      <span className={`kind kind-${kind ?? 'unknown'}`}>{kind ? kindLabel(kind) : sums.loading ? '…' : 'Manifest'}</span>
                      {s?.kind === 'index' && s.platforms ? (
                        <div className="platforms">
                          {s.platforms.map((p) => (
                            <span key={p.digest} className="badge">
                              {platformLabel(p)}
                            </span>
                          ))}
                        </div>
                      ) : null}
                      {s?.kind === 'image' && s.platforms?.[0] ? (
                        <div className="platforms">
                          <span className="badge">{platformLabel(s.platforms[0])}</span>
                        </div>
                      ) : null}
                      {s?.kind === 'helm-chart' && s.chart ? (
                        <div className="muted">
                          {s.chart.name} {s.chart.version}
                          {s.chart.appVersion ? ` (app ${s.chart.appVersion})` : ''}
                        </div>
                      ) : null}
                    </td>
                    <td data-label="Digest">
                      <Link
                        href={`/repository/${repo}/manifest/${t.manifest_digest}`}
                        title={t.manifest_digest}
                        aria-label={`Manifest ${shortDigest(t.manifest_digest)} of tag ${t.name}: details and security`}
                      >
                        <code>{shortDigest(t.manifest_digest)}</code>
                      </Link>
                    </td>
                    <td data-label="Size">{formatBytes(s?.size ?? t.size)}</td>
                    <td data-label="Last modified">
                      <time dateTime={new Date(t.start_ts * 1000).toISOString()}>{new Date(t.start_ts * 1000).toLocaleString()}</time>
                    </td>
                    <td data-label="Expires">
                      <TagExpiry repo={repo} tag={t} canWrite={canWrite} onChanged={changed} />
                    </td>
                    <td data-label="Pull">
                      {pullCommand(repo, t.name, kind).map((c) => (
                        <Command key={c} text={c} label={`pull command for ${t.name}`} />
                      ))}
                    </td>
                    {canWrite ? (
                      <td className="actions">
                        <div className="action-row">
                          <button type="button" onClick={() => setMoving(t)}>
                            Move<span className="sr-only"> or copy tag {t.name}</span>
                          </button>
                          <ConfirmButton label="Delete" question={`Delete tag ${t.name}?`} onConfirm={() => del(t)} />
                        </div>
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Tag" page={page} hasNext={!!tags.data?.has_additional} onPage={setPage} />
      {moving ? (
        <MoveTag
          repo={repo}
          tag={moving}
          onDone={(msg) => {
            setMoving(undefined);
            if (msg) changed(msg);
          }}
        />
      ) : null}
      <TagHistory repo={repo} canWrite={canWrite} filter={filter} version={historyKey} onRestored={changed} />
    </>
  );
}

const when = (seconds: number) => (
  <time dateTime={new Date(seconds * 1000).toISOString()}>{new Date(seconds * 1000).toLocaleString()}</time>
);

/** The server's tag history (moved and deleted tags within DEFAULT_TAG_EXPIRATION): restore points a tag back. */
function TagHistory({
  repo,
  canWrite,
  filter,
  version,
  onRestored,
}: {
  repo: string;
  canWrite: boolean;
  filter: string;
  version: number;
  onRestored: (msg: string) => void;
}) {
  const [page, setPage] = useState(1);
  const [error, setError] = useState<string>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: filter (a prop) is the trigger: a new filter starts again at page 1
  useEffect(() => setPage(1), [filter]);
  const h = useAsync(
    () => api<TagPage>('GET', `/repository/${repoPath(repo)}/tag/?${tagQuery(page, filter, true)}`),
    [repo, page, filter, version],
  );
  const restore = async (t: Tag) => {
    setError(undefined);
    try {
      await api('POST', `/repository/${repoPath(repo)}/tag/${enc(t.name)}/restore`, { manifest_digest: t.manifest_digest });
      onRestored(`Tag ${t.name} restored to ${shortDigest(t.manifest_digest)}.`);
    } catch (e) {
      setError(`Could not restore ${t.name}: ${toApiError(e).message}`);
    }
  };
  const rows = h.data?.tags ?? [];
  return (
    <section className="card" aria-labelledby="history-h">
      <h2 id="history-h">Tag history</h2>
      <p className="muted">
        Every tag's past and present manifests, newest first. A moved or deleted tag can be restored while the registry keeps its history.
      </p>
      {error ? (
        <div className="field-error" role="alert">
          {error}
        </div>
      ) : null}
      {h.loading && !h.data ? (
        <Loading />
      ) : h.error ? (
        <ErrorBox error={h.error} />
      ) : rows.length === 0 ? (
        <Empty>{filter ? `No tag history matches "${filter}".` : 'No tag history yet.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="history">
            <TableHead caption={`Tag history of ${repo}`} columns={['Tag', 'Manifest', 'From', 'Until']} actions={canWrite} />
            <tbody>
              {rows.map((t) => (
                <tr key={`${t.name}:${t.start_ts}:${t.manifest_digest}:${t.end_ts ?? ''}`}>
                  <th scope="row" data-label="Tag">
                    {t.name}
                  </th>
                  <td data-label="Manifest">
                    <code title={t.manifest_digest}>{shortDigest(t.manifest_digest)}</code>
                  </td>
                  <td data-label="From">{when(t.start_ts)}</td>
                  <td data-label="Until">
                    {t.end_ts === undefined ? <span className="badge">current</span> : when(t.end_ts)}
                    {t.end_ts !== undefined && t.end_ts * 1000 > Date.now() ? <span className="badge">current, expires</span> : null}
                  </td>
                  {canWrite ? (
                    <td className="actions">
                      {t.end_ts === undefined || t.end_ts * 1000 > Date.now() ? null : (
                        <button type="button" onClick={() => restore(t)}>
                          Restore
                          <span className="sr-only">
                            {' '}
                            tag {t.name} to {shortDigest(t.manifest_digest)}
                          </span>
                        </button>
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager label="Tag history" page={page} hasNext={!!h.data?.has_additional} onPage={setPage} />
    </section>
  );
}

function MoveTag({ repo, tag, onDone }: { repo: string; tag: Tag; onDone: (msg?: string) => void }) {
  const [name, setName] = useState(tag.name);
  const [digest, setDigest] = useState(tag.manifest_digest);
  const f = useForm<'name' | 'digest'>(
    () => ({
      name: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name)
        ? undefined
        : 'A tag has up to 128 letters, digits, "_", "." or "-" and does not start with "." or "-".',
      digest: /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/.test(digest)
        ? undefined
        : 'Enter a manifest digest such as sha256:… (64 hex digits).',
    }),
    async () => {
      await api('PUT', `/repository/${repoPath(repo)}/tag/${enc(name)}`, { manifest_digest: digest });
      onDone(`Tag ${name} now points at ${shortDigest(digest)}.`);
    },
    (e) => (/digest|manifest/.test(e.message) ? 'digest' : 'name'),
  );
  return (
    <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="move-h">
      <h2 id="move-h">Move or add a tag</h2>
      <p className="muted">Point a tag (existing or new) at a manifest of this repository.</p>
      <Field label="Tag" name="move-tag" value={name} onChange={setName} error={f.errors.name} required autoFocus />
      <Field label="Manifest digest" name="move-digest" value={digest} onChange={setDigest} error={f.errors.digest} required />
      <FormError message={f.errors.form} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={f.busy}>
          Save tag
        </button>
        <button type="button" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export interface ChartVersion extends Chart {
  tags: string[];
  digest: string;
  created?: string;
}

function Charts({ repo }: { repo: string }) {
  const c = useAsync(async (): Promise<{ charts: ChartVersion[]; source: string }> => {
    try {
      const r = await api<{ charts: ChartVersion[] }>('GET', `/repository/${repoPath(repo)}/charts`);
      return { charts: r.charts, source: 'charts' };
    } catch (e) {
      if (!endpointMissing(toApiError(e), '/charts')) throw e;
    }
    // Without the charts endpoint: the chart tags among the first 500 tags, with metadata from the manifest summary.
    const all: Tag[] = [];
    for (let p = 1; p <= 5; p++) {
      const r = await api<{ tags: Tag[]; has_additional: boolean }>('GET', `/repository/${repoPath(repo)}/tag/?limit=100&page=${p}`);
      all.push(...r.tags);
      if (!r.has_additional) break;
    }
    const s = await summaries(
      repo,
      all.map((t) => t.manifest_digest),
    );
    if (!s) throw new ApiError(404, 'no such endpoint');
    const byDigest = new Map<string, ChartVersion>();
    for (const t of all) {
      const x = s[t.manifest_digest];
      if (x?.kind !== 'helm-chart') continue;
      const v = byDigest.get(t.manifest_digest) ?? {
        ...(x.chart ?? {}),
        tags: [],
        digest: t.manifest_digest,
        created: new Date(t.start_ts * 1000).toISOString(),
      };
      v.tags.push(t.name);
      byDigest.set(t.manifest_digest, v);
    }
    return { charts: [...byDigest.values()], source: 'tags' };
  }, [repo]);
  if (c.loading && !c.data) return <Loading />;
  if (endpointMissing(c.error)) return <Empty>Chart metadata is not available on this server.</Empty>;
  if (c.error) return <ErrorBox error={c.error} />;
  if (c.data!.charts.length === 0)
    return (
      <Empty>
        No Helm charts in this repository. Push one with <code>helm push</code> or <code>berth chart push-package</code>.
      </Empty>
    );
  return (
    <div className="charts">
      {c.data!.charts.map((v) => (
        <ChartCard key={v.digest} repo={repo} chart={v} />
      ))}
    </div>
  );
}

export function ChartCard({ repo, chart }: { repo: string; chart: ChartVersion }) {
  const version = chart.version ?? chart.tags[0];
  return (
    <article className="card chart" aria-label={`Chart ${chart.name ?? repo} ${version ?? ''}`}>
      <h3>
        {chart.name ?? repo.split('/').pop()} <span className="badge">{version}</span>
      </h3>
      <dl className="facts">
        <dt>Version</dt>
        <dd>{chart.version ?? '—'}</dd>
        <dt>App version</dt>
        <dd>{chart.appVersion ?? '—'}</dd>
        <dt>Description</dt>
        <dd>{chart.description ?? '—'}</dd>
        <dt>Tags</dt>
        <dd>{chart.tags.join(', ') || '—'}</dd>
        <dt>Digest</dt>
        <dd>
          <Link href={`/repository/${repo}/manifest/${chart.digest}`}>
            <code>{shortDigest(chart.digest)}</code>
          </Link>
        </dd>
        <dt>Maintainers</dt>
        <dd>
          {chart.maintainers?.length ? (
            <ul className="plain">
              {chart.maintainers.map((m, i) => (
                <li
                  // biome-ignore lint/suspicious/noArrayIndexKey: Chart.yaml's maintainers have no id and may repeat; the list is static
                  key={i}
                >
                  {m.name}
                  {m.email ? ` <${m.email}>` : ''}
                  {m.url ? (
                    <>
                      {' '}
                      (
                      <a href={m.url} rel="noreferrer noopener">
                        {m.url}
                      </a>
                      )
                    </>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : (
            '—'
          )}
        </dd>
        <dt>Dependencies</dt>
        <dd>
          {chart.dependencies?.length ? (
            <ul className="plain">
              {chart.dependencies.map((d, i) => (
                <li
                  // biome-ignore lint/suspicious/noArrayIndexKey: Chart.yaml's dependencies may repeat a name (aliases); the list is static
                  key={i}
                >
                  <code>{d.name}</code> {d.version}
                  {d.repository ? <span className="muted"> from {d.repository}</span> : null}
                </li>
              ))}
            </ul>
          ) : (
            '—'
          )}
        </dd>
      </dl>
      {version
        ? pullCommand(repo, version, 'helm-chart').map((c) => (
            <Command key={c} text={c} label={c.startsWith('helm') ? 'helm pull command' : 'berth chart pull command'} />
          ))
        : null}
    </article>
  );
}

function Settings({ repo, data, user, reload }: { repo: string; data: Repo; user: User; reload: () => void }) {
  const [description, setDescription] = useState(data.description ?? '');
  const [saved, setSaved] = useState<string>();
  const f = useForm<'description'>(
    () => ({ description: description.length > 65536 ? 'At most 65536 characters.' : undefined }),
    async () => {
      await api('PUT', `/repository/${repoPath(repo)}`, { description: description || null });
      setSaved('Description saved.');
      reload();
    },
    () => 'description',
  );
  const [visError, setVisError] = useState<string>();
  const changeVisibility = async () => {
    setVisError(undefined);
    try {
      await api('POST', `/repository/${repoPath(repo)}/changevisibility`, { visibility: data.is_public ? 'private' : 'public' });
      setSaved(`The repository is now ${data.is_public ? 'private' : 'public'}.`);
      reload();
    } catch (e) {
      setVisError(toApiError(e).message);
    }
  };
  return (
    <>
      {saved ? (
        <div className="notice" role="status">
          {saved}
        </div>
      ) : null}
      <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="desc-h">
        <h2 id="desc-h">Description</h2>
        <Field label="Description" name="repo-description" value={description} onChange={setDescription} error={f.errors.description} />
        <button type="submit" disabled={f.busy}>
          Save description
        </button>
      </form>
      {data.can_admin ? (
        <>
          <section className="card" aria-labelledby="vis-h">
            <h2 id="vis-h">Visibility</h2>
            <p>
              This repository is <strong>{data.is_public ? 'public' : 'private'}</strong>.
            </p>
            <button type="button" onClick={changeVisibility}>
              Make {data.is_public ? 'private' : 'public'}
            </button>
            {visError ? (
              <div className="field-error" role="alert">
                {visError}
              </div>
            ) : null}
          </section>
          <Permissions repo={repo} isOrg={user.organizations.some((o) => o.name === data.namespace) || data.namespace !== user.username} />
          <section className="card danger-zone" aria-labelledby="del-h">
            <h2 id="del-h">Delete repository</h2>
            <p>Deletes every tag and manifest of {repo}.</p>
            <ConfirmButton
              label="Delete repository"
              question={`Delete ${repo} for good?`}
              onConfirm={async () => {
                await api('DELETE', `/repository/${repoPath(repo)}`);
                navigate('/');
              }}
            />
          </section>
        </>
      ) : null}
    </>
  );
}

interface Perm {
  name: string;
  role: string;
  is_robot?: boolean;
}

function Permissions({ repo, isOrg }: { repo: string; isOrg: boolean }) {
  const users = useAsync(
    () => api<{ permissions: Record<string, Perm> }>('GET', `/repository/${repoPath(repo)}/permissions/user/`),
    [repo],
  );
  const teams = useAsync(
    () =>
      isOrg
        ? api<{ permissions: Record<string, Perm> }>('GET', `/repository/${repoPath(repo)}/permissions/team/`)
        : Promise.resolve<{ permissions: Record<string, Perm> }>({ permissions: {} }),
    [repo, isOrg],
  );
  const [kind, setKind] = useState<'user' | 'team'>('user');
  const [who, setWho] = useState('');
  const [role, setRole] = useState('read');
  const f = useForm<'who' | 'role'>(
    () => ({ who: who.trim() ? undefined : kind === 'user' ? 'Enter a username or a robot (owner+name).' : 'Enter a team name.' }),
    async () => {
      await api('PUT', `/repository/${repoPath(repo)}/permissions/${kind}/${enc(who.trim())}`, { role });
      setWho('');
      users.reload();
      teams.reload();
    },
    (e) => (/role/.test(e.message) ? 'role' : 'who'),
  );
  const rows: (Perm & { kind: 'user' | 'team' })[] = [
    ...Object.values(users.data?.permissions ?? {}).map((p) => ({ ...p, kind: 'user' as const })),
    ...Object.values(teams.data?.permissions ?? {}).map((p) => ({ ...p, kind: 'team' as const })),
  ];
  const change = async (p: Perm & { kind: 'user' | 'team' }, r: string) => {
    await api('PUT', `/repository/${repoPath(repo)}/permissions/${p.kind}/${enc(p.name)}`, { role: r }).catch(() => undefined);
    users.reload();
    teams.reload();
  };
  return (
    <section className="card" aria-labelledby="perm-h">
      <h2 id="perm-h">Permissions</h2>
      {users.error ? (
        <ErrorBox error={users.error} />
      ) : rows.length === 0 ? (
        <Empty>Nobody has an explicit permission yet. Namespace admins always have admin.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <TableHead caption={`Permissions on ${repo}`} columns={['Who', 'Kind', 'Role']} actions />
            <tbody>
              {rows.map((p) => (
                <tr key={`${p.kind}:${p.name}`}>
                  <td data-label="Who">
                    <code>{p.name}</code>
                  </td>
                  <td data-label="Kind">{p.kind === 'team' ? 'team' : p.is_robot ? 'robot' : 'user'}</td>
                  <td data-label="Role">
                    <select aria-label={`Role of ${p.name}`} value={p.role} onChange={(e) => change(p, e.target.value)}>
                      <option value="read">read</option>
                      <option value="write">write</option>
                      <option value="admin">admin</option>
                    </select>
                  </td>
                  <td className="actions">
                    <ConfirmButton
                      label="Remove"
                      confirmLabel="Yes, remove"
                      question={`Remove the permission of ${p.name}?`}
                      onConfirm={async () => {
                        await api('DELETE', `/repository/${repoPath(repo)}/permissions/${p.kind}/${enc(p.name)}`);
                        users.reload();
                        teams.reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form onSubmit={f.onSubmit} noValidate className="inline-form" aria-label="Grant a permission">
        {isOrg ? (
          <Select
            label="Grant to"
            name="perm-kind"
            value={kind}
            onChange={(v) => setKind(v as 'user' | 'team')}
            options={[
              ['user', 'User or robot'],
              ['team', 'Team'],
            ]}
          />
        ) : null}
        <Field
          label={kind === 'user' ? 'User or robot name' : 'Team name'}
          name="perm-who"
          value={who}
          onChange={setWho}
          error={f.errors.who}
        />
        <Select
          label="Role"
          name="perm-role"
          value={role}
          onChange={setRole}
          error={f.errors.role}
          options={[
            ['read', 'read'],
            ['write', 'write'],
            ['admin', 'admin'],
          ]}
        />
        <button type="submit" disabled={f.busy}>
          Grant
        </button>
      </form>
    </section>
  );
}
