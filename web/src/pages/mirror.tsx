// The repository page's "Mirroring" section (docs/MIRRORING.md): the repository state, the mirror configuration
// (upstream, tags, schedule, credentials, TLS, outbound proxy), the sync status with its failure reason, and sync now / cancel.
import { useEffect, useState } from 'react';
import { api, repoPath } from '../api';
import { ErrorBox, Field, FormError, Loading, ProxyFields, Select, toApiError, useAsync, useForm } from '../ui';

export interface MirrorView {
  is_enabled: boolean;
  external_reference: string;
  external_registry_username: string | null;
  external_registry_config: {
    verify_tls: boolean;
    proxy?: { http_proxy?: string | null; https_proxy?: string | null; no_proxy?: string | null };
  };
  sync_interval: number;
  sync_start_date: string | null;
  sync_expiration_date: string | null;
  sync_retries_remaining: number;
  sync_status: 'NEVER_RUN' | 'SYNC_NOW' | 'SYNCING' | 'SYNC_SUCCESS' | 'SYNC_FAILED' | 'SYNC_CANCEL';
  root_rule: { rule_kind: string; rule_value: string[] };
  robot_username: string | null;
  last_sync: string | null;
  last_error: string | null;
  status_message: string;
}

const STATUS_LABEL: Record<MirrorView['sync_status'], string> = {
  NEVER_RUN: 'Scheduled (never run)',
  SYNC_NOW: 'Sync requested',
  SYNCING: 'Syncing',
  SYNC_SUCCESS: 'Succeeded',
  SYNC_FAILED: 'Failed',
  SYNC_CANCEL: 'Cancelled',
};

type ProxyField = 'http_proxy' | 'https_proxy' | 'no_proxy';
type MirrorField = 'reference' | 'tags' | 'interval' | 'start' | 'username' | 'password' | 'robot' | ProxyField | 'form';

function fieldOf(message: string): MirrorField {
  // First: a proxy's reason may speak of a scheme or a password too.
  const proxyField = /\bproxy\.(http_proxy|https_proxy|no_proxy)\b/.exec(message);
  if (proxyField) return proxyField[1] as ProxyField;
  if (/external_reference|host|repository name component|scheme/.test(message)) return 'reference';
  if (/rule/.test(message)) return 'tags';
  if (/sync_interval/.test(message)) return 'interval';
  if (/sync_start_date|DateTime/.test(message)) return 'start';
  if (/password/.test(message)) return 'password';
  if (/username/.test(message)) return 'username';
  if (/robot/.test(message)) return 'robot';
  return 'form';
}

export function MirroringSection({ repo, state, reload }: { repo: string; state: string; reload: () => void }) {
  const path = `/repository/${repoPath(repo)}`;
  const m = useAsync(
    () =>
      api<MirrorView>('GET', `${path}/mirror`).catch((e) => {
        const ae = toApiError(e);
        if (ae.status === 404 && /no mirror configuration/.test(ae.message)) return null;
        throw ae;
      }),
    [repo],
  );
  const [notice, setNotice] = useState<string>();
  const [actionError, setActionError] = useState<string>();
  const live = m.data?.sync_status === 'SYNCING' || m.data?.sync_status === 'SYNC_NOW';
  // While a sync is requested or running, the status is read again every two seconds.
  useEffect(() => {
    if (!live) return;
    const t = setInterval(m.reload, 2000);
    return () => clearInterval(t);
  }, [live, m.reload]);
  if (m.loading && m.data === undefined) return <Loading />;
  if (m.error)
    return m.error.status === 404 ? (
      <section className="card" aria-labelledby="mirror-h">
        <h2 id="mirror-h">Mirroring</h2>
        <p>{m.error.message}</p>
      </section>
    ) : (
      <ErrorBox error={m.error} />
    );
  const act = async (what: string, fn: () => Promise<unknown>) => {
    setActionError(undefined);
    setNotice(undefined);
    try {
      await fn();
      setNotice(what);
      m.reload();
      reload();
    } catch (e) {
      setActionError(toApiError(e).message);
    }
  };
  const cfg = m.data ?? undefined;
  return (
    <>
      {notice ? (
        <div className="notice" role="status">
          {notice}
        </div>
      ) : null}
      <section className="card" aria-labelledby="state-h">
        <h2 id="state-h">Repository state</h2>
        <p>
          This repository is <strong data-testid="repo-state">{state}</strong>.{' '}
          {state === 'MIRROR'
            ? 'Its tags come from the upstream repository; pushes and tag changes are refused.'
            : state === 'READ_ONLY'
              ? 'Pushes and tag changes are refused.'
              : 'Pushes are accepted.'}
        </p>
        <div className="actions">
          {(['NORMAL', 'READ_ONLY', 'MIRROR'] as const)
            .filter((s) => s !== state)
            .map((s) => (
              <button
                key={s}
                type="button"
                onClick={() => act(`The repository is now ${s}.`, () => api('PUT', `${path}/changestate`, { state: s }))}
              >
                Make {s === 'READ_ONLY' ? 'read-only' : s === 'MIRROR' ? 'a mirror' : 'normal'}
              </button>
            ))}
        </div>
      </section>
      {cfg ? (
        <section className="card" aria-labelledby="mirror-status-h">
          <h2 id="mirror-status-h">Sync status</h2>
          <dl className="facts">
            <dt>Status</dt>
            <dd data-testid="mirror-status">{STATUS_LABEL[cfg.sync_status]}</dd>
            {cfg.last_error && cfg.sync_status === 'SYNC_FAILED' ? (
              <>
                <dt>Reason</dt>
                <dd>
                  <span data-testid="mirror-error" role="alert">
                    {cfg.last_error}
                  </span>
                </dd>
              </>
            ) : null}
            <dt>Last sync</dt>
            <dd>{cfg.last_sync ?? 'never'}</dd>
            <dt>Next sync</dt>
            <dd>{cfg.sync_start_date ?? 'only when asked (sync now)'}</dd>
            <dt>Retries left</dt>
            <dd>{cfg.sync_retries_remaining}</dd>
          </dl>
          <div className="actions">
            <button
              type="button"
              disabled={cfg.sync_status === 'SYNCING'}
              onClick={() => act('A sync was requested.', () => api('POST', `${path}/mirror/sync-now`))}
            >
              Sync now
            </button>
            <button
              type="button"
              disabled={!live}
              onClick={() => act('The sync was cancelled.', () => api('POST', `${path}/mirror/sync-cancel`))}
            >
              Cancel sync
            </button>
          </div>
          {actionError ? (
            <div className="field-error" role="alert">
              {actionError}
            </div>
          ) : null}
        </section>
      ) : actionError ? (
        <div className="field-error" role="alert">
          {actionError}
        </div>
      ) : null}
      <MirrorForm
        path={path}
        current={cfg}
        onSaved={(msg) => {
          setNotice(msg);
          m.reload();
          reload();
        }}
      />
    </>
  );
}

function MirrorForm({ path, current, onSaved }: { path: string; current?: MirrorView; onSaved: (msg: string) => void }) {
  const [reference, setReference] = useState(current?.external_reference ?? '');
  const [tags, setTags] = useState(current?.root_rule.rule_value.join(', ') ?? 'latest');
  const [interval, setInterval_] = useState(String(current?.sync_interval ?? 86400));
  const [start, setStart] = useState(current?.sync_start_date ?? `${new Date().toISOString().slice(0, 19)}Z`);
  const [username, setUsername] = useState(current?.external_registry_username ?? '');
  const [password, setPassword] = useState('');
  const [robot, setRobot] = useState(current?.robot_username ?? '');
  const [verifyTls, setVerifyTls] = useState(current ? String(current.external_registry_config.verify_tls) : 'true');
  const [enabled, setEnabled] = useState(current ? String(current.is_enabled) : 'true');
  const currentProxy = current?.external_registry_config.proxy;
  const [httpProxy, setHttpProxy] = useState(currentProxy?.http_proxy ?? '');
  const [httpsProxy, setHttpsProxy] = useState(currentProxy?.https_proxy ?? '');
  const [noProxy, setNoProxy] = useState(currentProxy?.no_proxy ?? '');
  const f = useForm<MirrorField>(
    () => ({
      reference: /^[^/\s]+\/\S+$/.test(reference.trim()) ? undefined : 'Enter host[:port]/namespace/repository.',
      tags: tags.split(',').some((t) => t.trim()) ? undefined : 'Enter at least one tag or glob (for example latest, v1.*).',
      interval: /^\d+$/.test(interval) && Number(interval) >= 60 ? undefined : 'At least 60 seconds.',
      password: password && !username ? 'A password needs a username.' : undefined,
    }),
    async () => {
      const body: Record<string, unknown> = {
        is_enabled: enabled === 'true',
        external_reference: reference.trim(),
        sync_interval: Number(interval),
        sync_start_date: start.trim(),
        root_rule: {
          rule_kind: 'tag_glob_csv',
          rule_value: tags
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean),
        },
        external_registry_config: {
          verify_tls: verifyTls === 'true',
          // An emptied field clears its setting (null); a new mirror without any sends none.
          ...(current || httpProxy.trim() || httpsProxy.trim() || noProxy.trim()
            ? { proxy: { http_proxy: httpProxy.trim() || null, https_proxy: httpsProxy.trim() || null, no_proxy: noProxy.trim() || null } }
            : {}),
        },
        robot_username: robot.trim() || null,
      };
      if (!current || username !== (current.external_registry_username ?? '') || password) {
        body.external_registry_username = username.trim() || null;
        body.external_registry_password = password || null;
      }
      await api(current ? 'PUT' : 'POST', `${path}/mirror`, body);
      setPassword('');
      onSaved(current ? 'Mirror settings saved.' : 'Mirroring is set up; the repository is now a mirror.');
    },
    (e) => fieldOf(e.message),
  );
  return (
    <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="mirror-form-h">
      <h2 id="mirror-form-h">{current ? 'Mirror settings' : 'Set up mirroring'}</h2>
      <Field
        label="Upstream repository"
        name="mirror-reference"
        value={reference}
        onChange={setReference}
        error={f.errors.reference}
        hint="host[:port]/namespace/repository, for example quay.io/prometheus/node-exporter"
      />
      <Field
        label="Tags to mirror"
        name="mirror-tags"
        value={tags}
        onChange={setTags}
        error={f.errors.tags}
        hint="Comma-separated globs: latest, v1.*, 2.[0-9]"
      />
      <Field label="Sync interval (seconds)" name="mirror-interval" value={interval} onChange={setInterval_} error={f.errors.interval} />
      <Field
        label="First sync at (UTC)"
        name="mirror-start"
        value={start}
        onChange={setStart}
        error={f.errors.start}
        hint="ISO 8601, for example 2026-01-31T12:00:00Z"
      />
      <Field
        label="Upstream username"
        name="mirror-username"
        value={username}
        onChange={setUsername}
        error={f.errors.username}
        autoComplete="off"
      />
      <Field
        label="Upstream password"
        name="mirror-password"
        type="password"
        value={password}
        onChange={setPassword}
        error={f.errors.password}
        autoComplete="new-password"
        hint={current?.external_registry_username ? 'Leave empty to keep the stored password.' : undefined}
      />
      <Field
        label="Robot account (optional)"
        name="mirror-robot"
        value={robot}
        onChange={setRobot}
        error={f.errors.robot}
        hint="namespace+name; it gets write on this repository"
      />
      <Select
        label="TLS"
        name="mirror-tls"
        value={verifyTls}
        onChange={setVerifyTls}
        options={[
          ['true', 'HTTPS with a verified certificate'],
          ['false', 'Do not verify (allows plain HTTP)'],
        ]}
      />
      <ProxyFields
        namePrefix="mirror-"
        state={{ http_proxy: [httpProxy, setHttpProxy], https_proxy: [httpsProxy, setHttpsProxy], no_proxy: [noProxy, setNoProxy] }}
        errors={f.errors}
      />
      <Select
        label="Scheduled syncs"
        name="mirror-enabled"
        value={enabled}
        onChange={setEnabled}
        options={[
          ['true', 'Enabled'],
          ['false', 'Disabled (sync now only)'],
        ]}
      />
      <FormError message={f.errors.form} />
      <button type="submit" disabled={f.busy}>
        {current ? 'Save mirror settings' : 'Set up mirroring'}
      </button>
    </form>
  );
}
