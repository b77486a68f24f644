// One manifest: what it is (image, multi-arch index with platforms, Helm chart, artifact), and its security report.
import { type ReactNode, useState } from 'react';
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
  type Platform,
  type Summary,
} from '../api';
import { Link } from '../router';
import { Empty, ErrorBox, Loading, toApiError, useAsync } from '../ui';
import { ChartCard, endpointMissing, summaries } from './repos';

interface ManifestView {
  digest: string;
  media_type: string;
  size: number;
  kind: Summary['kind'];
  platforms?: Platform[];
  chart?: Chart;
  tags?: string[];
  artifact_type?: string | null;
  config_media_type?: string | null;
}

export function ManifestPage({ repo, digest }: { repo: string; digest: string }) {
  const m = useAsync(async (): Promise<ManifestView> => {
    // The manifest endpoint (Helm branch shape) when the server has it; the UI summary otherwise.
    try {
      const r = await api<any>('GET', `/repository/${repoPath(repo)}/manifest/${enc(digest)}`);
      const a = r.artifact ?? {};
      const s = await summaries(repo, [digest]).catch(() => undefined);
      return {
        digest: r.digest,
        media_type: r.media_type,
        size: s?.[digest]?.size ?? r.size,
        tags: r.tags,
        kind: a.kind ?? s?.[digest]?.kind ?? (r.is_manifest_list ? 'index' : 'artifact'),
        chart: a.chart ?? s?.[digest]?.chart,
        platforms: a.manifests
          ? a.manifests.map((x: any) => ({
              digest: x.digest,
              os: x.platform?.os ?? null,
              architecture: x.platform?.architecture ?? null,
              variant: x.platform?.variant ?? null,
            }))
          : s?.[digest]?.platforms,
        artifact_type: a.artifact_type ?? null,
        config_media_type: a.config_media_type ?? r.config_media_type ?? null,
      };
    } catch (e) {
      if (!endpointMissing(toApiError(e), '/manifest/')) throw e;
    }
    const s = await summaries(repo, [digest]);
    const one = s?.[digest];
    if (!one)
      throw new ApiError(404, s ? `manifest ${digest} is not in repository ${repo}` : 'Manifest details are not available on this server.');
    return one;
  }, [repo, digest]);

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={`/repository/${repo}`}>{repo}</Link> /{' '}
      </nav>
      <h1>
        Manifest <code>{shortDigest(digest)}</code>
      </h1>
      {m.loading && !m.data ? <Loading /> : m.error ? <ErrorBox error={m.error} /> : <ManifestFacts repo={repo} m={m.data!} />}
      <Security repo={repo} digest={digest} />
    </>
  );
}

function ManifestFacts({ repo, m }: { repo: string; m: ManifestView }) {
  return (
    <>
      <dl className="facts card">
        <dt>Type</dt>
        <dd>
          <span className={`kind kind-${m.kind}`}>{kindLabel(m.kind)}</span>
        </dd>
        <dt>Digest</dt>
        <dd>
          <code className="wrap">{m.digest}</code>
        </dd>
        <dt>Media type</dt>
        <dd>
          <code className="wrap">{m.media_type}</code>
        </dd>
        {m.artifact_type || (m.kind === 'artifact' && m.config_media_type) ? (
          <>
            <dt>Artifact type</dt>
            <dd>
              <code className="wrap">{m.artifact_type ?? m.config_media_type}</code>
            </dd>
          </>
        ) : null}
        <dt>Size</dt>
        <dd>{formatBytes(m.size)}</dd>
        {m.tags ? (
          <>
            <dt>Tags</dt>
            <dd>{m.tags.join(', ') || '—'}</dd>
          </>
        ) : null}
        {m.platforms?.length ? (
          <>
            <dt>{m.kind === 'index' ? 'Platforms' : 'Platform'}</dt>
            <dd>
              <ul className="plain">
                {m.platforms.map((p) => (
                  <li key={p.digest}>
                    {platformLabel(p)}
                    {m.kind === 'index' ? (
                      <>
                        {' '}
                        —{' '}
                        <Link href={`/repository/${repo}/manifest/${p.digest}`}>
                          <code>{shortDigest(p.digest)}</code>
                        </Link>
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
      </dl>
      {m.kind === 'helm-chart' && m.chart ? <ChartCard repo={repo} chart={{ ...m.chart, tags: m.tags ?? [], digest: m.digest }} /> : null}
    </>
  );
}

// Quay's security report: GET /api/v1/repository/{repo}/manifest/{digest}/security?vulnerabilities=true
interface Vuln {
  Name: string;
  Severity?: string;
  FixedBy?: string;
  Link?: string;
  Description?: string;
  NamespaceName?: string;
}
interface Feature {
  Name: string;
  Version: string;
  VersionFormat?: string;
  Vulnerabilities?: Vuln[];
}
interface SecurityReport {
  status: string;
  data?: { Layer?: { Features?: Feature[] } } | null;
  detail?: string;
  warning?: string;
  reason?: string;
  error?: string;
  message?: string;
}

const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'];
const sevOf = (s?: string) => {
  const x = (s ?? 'Unknown').toLowerCase();
  return SEVERITIES.find((k) => k.toLowerCase() === x) ?? 'Unknown';
};

function Security({ repo, digest }: { repo: string; digest: string }) {
  const r = useAsync(
    () => api<SecurityReport>('GET', `/repository/${repoPath(repo)}/manifest/${enc(digest)}/security?vulnerabilities=true`),
    [repo, digest],
  );
  const [severity, setSeverity] = useState('all');
  const [fixable, setFixable] = useState(false);
  let body: ReactNode;
  if (r.loading && !r.data) body = <Loading label="Loading the security report…" />;
  else if (endpointMissing(r.error, '/security')) body = <Empty>Security scanning is not available on this server.</Empty>;
  else if (r.error) body = <ErrorBox error={r.error} />;
  else {
    const rep = r.data!;
    const status = (rep.status ?? '').toLowerCase();
    const rows = (rep.data?.Layer?.Features ?? []).flatMap((f) => (f.Vulnerabilities ?? []).map((v) => ({ f, v, sev: sevOf(v.Severity) })));
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, rows.filter((x) => x.sev === s).length]));
    const shown = rows
      .filter((x) => (severity === 'all' || x.sev === severity) && (!fixable || !!x.v.FixedBy))
      .sort((a, b) => SEVERITIES.indexOf(a.sev) - SEVERITIES.indexOf(b.sev) || a.f.Name.localeCompare(b.f.Name));
    const stateText: Record<string, string> = {
      queued: `the scanner has not looked at this manifest yet. Check back in a minute.${rep.detail ? ` (${rep.detail})` : ''}`,
      scanned: rows.length
        ? `${rows.length} vulnerabilities in ${new Set(rows.map((x) => x.f.Name)).size} packages.`
        : rep.warning
          ? 'packages indexed, but not checked: no vulnerability data is loaded.'
          : 'no known vulnerabilities.',
      failed: `the scan did not finish${rep.detail || rep.reason || rep.error || rep.message ? `: ${rep.detail ?? rep.reason ?? rep.error ?? rep.message}` : '.'}`,
      unsupported: 'the scanner cannot index this kind of manifest (for example a Helm chart or another artifact).',
    };
    body = (
      <>
        <p className={`scan-state state-${status || 'unknown'}`} role="status">
          <strong>{status ? status[0].toUpperCase() + status.slice(1) : 'Unknown'}</strong> — {stateText[status] ?? `state "${rep.status}"`}
        </p>
        {rep.warning ? (
          <p className="notice warning" role="alert">
            {rep.warning}
          </p>
        ) : null}
        {status === 'scanned' ? (
          <>
            <ul className="sev-counts" aria-label="Vulnerabilities by severity">
              {SEVERITIES.map((s) => (
                <li key={s} className={`sev sev-${s.toLowerCase()}`}>
                  <span className="n">{counts[s]}</span> {s}
                </li>
              ))}
            </ul>
            {/* biome-ignore lint/a11y/useSemanticElements: a flex row of controls styled with the other .filters; a fieldset would bring its own border, padding and min-width */}
            <div className="filters" role="group" aria-label="Filter vulnerabilities">
              <label htmlFor="sev-filter">Severity</label>
              <select id="sev-filter" value={severity} onChange={(e) => setSeverity(e.target.value)}>
                <option value="all">All severities</option>
                {SEVERITIES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
              <label className="check">
                <input type="checkbox" checked={fixable} onChange={(e) => setFixable(e.target.checked)} /> Fixable only
              </label>
            </div>
            {shown.length === 0 ? (
              <Empty>{rows.length ? 'No vulnerability matches the filter.' : 'No known vulnerabilities.'}</Empty>
            ) : (
              <div className="table-wrap">
                <table className="vulns">
                  <caption className="sr-only">Vulnerabilities, most severe first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Vulnerability</th>
                      <th scope="col">Severity</th>
                      <th scope="col">Package</th>
                      <th scope="col">Installed</th>
                      <th scope="col">Fixed in</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map(({ f, v, sev }, i) => (
                      <tr
                        // biome-ignore lint/suspicious/noArrayIndexKey: a package can carry the same vulnerability twice; the index keeps keys unique in a read-only, stateless table
                        key={`${f.Name}-${v.Name}-${i}`}
                      >
                        <th scope="row" data-label="Vulnerability">
                          {v.Link ? (
                            <a href={v.Link.split(/\s+/)[0]} target="_blank" rel="noreferrer noopener">
                              {v.Name}
                            </a>
                          ) : (
                            v.Name
                          )}
                          {v.Description ? <div className="muted small-text">{v.Description.slice(0, 240)}</div> : null}
                        </th>
                        <td data-label="Severity">
                          <span className={`sev sev-${sev.toLowerCase()}`}>{sev}</span>
                        </td>
                        <td data-label="Package">
                          <code>{f.Name}</code>
                        </td>
                        <td data-label="Installed">
                          <code>{f.Version}</code>
                        </td>
                        <td data-label="Fixed in">{v.FixedBy ? <code>{v.FixedBy}</code> : <span className="muted">no fix yet</span>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        ) : null}
      </>
    );
  }
  return (
    <section className="card" aria-labelledby="sec-h">
      <h2 id="sec-h">Security</h2>
      {body}
    </section>
  );
}
