// The "Logs" view (repositories, organizations, the admin page) and a repository's notifications.
// Logs: Quay's /logs pages (newest first, "Show older" follows next_page), filtered by kind, performer
// and a time range; the same range as a JSON-lines download (exportlogs). Notifications: Quay's
// repository notifications with their failures, the last error, test, re-enable and delete.
import { useEffect, useState } from 'react';
import { api, enc, type ApiError } from '../api';
import { ConfirmButton, Empty, ErrorBox, Field, FormError, Loading, Select, toApiError, useAsync, useForm } from '../ui';

const KINDS = [
  'push_repo',
  'pull_repo',
  'create_repo',
  'delete_repo',
  'set_repo_description',
  'change_repo_visibility',
  'change_repo_permission',
  'delete_repo_permission',
  'create_tag',
  'move_tag',
  'delete_tag',
  'revert_tag',
  'create_robot',
  'delete_robot',
  'regenerate_robot_token',
  'org_create',
  'org_delete',
  'org_create_team',
  'org_delete_team',
  'org_add_team_member',
  'org_remove_team_member',
  'user_create',
  'user_delete',
  'create_app_specific_token',
  'revoke_app_specific_token',
  'login_success',
  'login_failure',
  'logout_success',
  'enable_team_sync',
  'disable_team_sync',
  'add_repo_notification',
  'delete_repo_notification',
  'reset_repo_notification',
];

interface LogEntry {
  kind: string;
  metadata: Record<string, unknown>;
  ip: string | null;
  datetime: string;
  performer?: { name: string; is_robot: boolean };
  namespace?: { name: string };
}
interface LogPage {
  logs: LogEntry[];
  next_page?: string;
  start_time: string;
  end_time: string;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
/** An <input type=date> value (YYYY-MM-DD) as Quay's MM/DD/YYYY. */
const quayDate = (v: string) => {
  const [y, m, d] = v.split('-');
  return `${m}/${d}/${y}`;
};

function details(e: LogEntry): string {
  const m = e.metadata;
  const parts: string[] = [];
  for (const k of [
    'repo',
    'tag',
    'manifest_digest',
    'original_manifest_digest',
    'username',
    'team',
    'member',
    'robot',
    'role',
    'visibility',
    'type',
    'app_specific_token_title',
    'event',
    'method',
  ]) {
    const v = m[k];
    if (v !== undefined && v !== null && v !== '')
      parts.push(`${k.replace(/_/g, ' ')}: ${String(v).replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…')}`);
  }
  return parts.join(', ');
}

/** `base`: "/repository/ns/name", "/organization/acme" or "/superuser". */
export function LogsView({ base, title }: { base: string; title: string }) {
  const [kind, setKind] = useState('');
  const [performer, setPerformer] = useState('');
  const [from, setFrom] = useState(day(new Date(Date.now() - 7 * 86400_000)));
  const [to, setTo] = useState(day(new Date()));
  const [applied, setApplied] = useState({ kind: '', performer: '', from, to });
  const [pages, setPages] = useState<LogPage[]>([]);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const query = (next?: string) => {
    const q = new URLSearchParams({ starttime: quayDate(applied.from), endtime: quayDate(applied.to) });
    if (applied.kind) q.set('kind', applied.kind);
    if (applied.performer) q.set('performer', applied.performer);
    if (next) q.set('next_page', next);
    return q.toString();
  };
  const load = async (next?: string) => {
    setBusy(true);
    try {
      const p = await api<LogPage>('GET', `${base}/logs?${query(next)}`);
      setPages((old) => (next ? [...old, p] : [p]));
      setError(undefined);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: load is recreated on every render; it reloads when the view (base) or the applied filters change, not while the filter form is edited
  useEffect(() => {
    void load();
  }, [base, applied]);
  const logs = pages.flatMap((p) => p.logs);
  const last = pages[pages.length - 1];
  return (
    <section aria-labelledby="logs-h" className="logs">
      <h2 id="logs-h">{title}</h2>
      <form
        className="filters"
        aria-label="Log filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ kind, performer: performer.trim(), from, to });
        }}
      >
        <Select
          label="Kind"
          name="log-kind"
          value={kind}
          onChange={setKind}
          options={[['', 'All kinds'], ...KINDS.map((k): [string, string] => [k, k])]}
        />
        <Field label="Performer" name="log-performer" value={performer} onChange={setPerformer} placeholder="user or org+robot" />
        <Field label="From" name="log-from" type="date" value={from} onChange={setFrom} />
        <Field label="To" name="log-to" type="date" value={to} onChange={setTo} />
        <button type="submit" className="primary">
          Apply filters
        </button>
        <a className="button" href={`/api/v1${base}/exportlogs?${query()}`} download>
          Export (JSON lines)
        </a>
      </form>
      {error ? <ErrorBox error={error} /> : null}
      {!pages.length && busy ? (
        <Loading />
      ) : logs.length === 0 && !error ? (
        <Empty>No log entries match.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="logs-table">
            <caption className="sr-only">Log entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Kind</th>
                <th scope="col">Performer</th>
                <th scope="col">Address</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {logs.map((e, i) => (
                <tr
                  // biome-ignore lint/suspicious/noArrayIndexKey: log entries have no id; rows hold no state and are only appended (next page) or replaced (new filters)
                  key={i}
                  data-kind={e.kind}
                >
                  <td data-label="Time">
                    <time dateTime={new Date(e.datetime).toISOString()}>{new Date(e.datetime).toLocaleString()}</time>
                  </td>
                  <td data-label="Kind">
                    <code>{e.kind}</code>
                  </td>
                  <td data-label="Performer">
                    {e.performer ? (
                      <>
                        {e.performer.name}
                        {e.performer.is_robot ? ' (robot)' : ''}
                      </>
                    ) : (
                      <em>anonymous</em>
                    )}
                  </td>
                  <td data-label="Address">{e.ip ?? ''}</td>
                  <td data-label="Details">{details(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {last?.next_page ? (
        <button type="button" disabled={busy} onClick={() => load(last.next_page)}>
          Show older entries
        </button>
      ) : null}
    </section>
  );
}

interface Notification {
  uuid: string;
  title: string | null;
  event: string;
  method: string;
  config: { url: string };
  event_config: { level?: number };
  number_of_failures: number;
  enabled: boolean;
  last_error: string | null;
  signing_secret?: string;
}

const LEVELS: [string, string][] = [
  ['', 'Any severity'],
  ['1', 'Critical'],
  ['2', 'High or worse'],
  ['3', 'Medium or worse'],
  ['4', 'Low or worse'],
];

export function NotificationsView({ repo }: { repo: string }) {
  const path = `/repository/${repo.split('/').map(enc).join('/')}/notification/`;
  const list = useAsync(() => api<{ notifications: Notification[] }>('GET', path), [repo]);
  const [event, setEvent] = useState('repo_push');
  const [method, setMethod] = useState('webhook');
  const [url, setUrl] = useState('');
  const [level, setLevel] = useState('');
  const [title, setTitle] = useState('');
  const [created, setCreated] = useState<Notification>();
  const [status, setStatus] = useState<string>();
  const f = useForm<'url'>(
    () => ({ url: /^https?:\/\/\S+$/.test(url) ? undefined : 'Enter the http:// or https:// URL to send to.' }),
    async () => {
      const n = await api<Notification>('POST', path, {
        event,
        method,
        config: { url },
        eventConfig: event === 'vulnerability_found' && level ? { level: Number(level) } : {},
        ...(title ? { title } : {}),
      });
      setCreated(n);
      setUrl('');
      setTitle('');
      list.reload();
    },
    (e) => (/url/.test(e.message) ? 'url' : 'form'),
  );
  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      setStatus(what);
    } catch (e) {
      setStatus(toApiError(e).message);
    }
    list.reload();
  };
  return (
    <section aria-labelledby="notif-h">
      <h2 id="notif-h">Notifications</h2>
      {status ? (
        <div className="notice" role="status">
          {status}
        </div>
      ) : null}
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : list.data!.notifications.length === 0 ? (
        <Empty>No notifications yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="notifications">
            <caption className="sr-only">Notifications of this repository</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Method</th>
                <th scope="col">URL</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data!.notifications.map((n) => (
                <tr key={n.uuid} data-uuid={n.uuid}>
                  <td data-label="Event">
                    {n.title ? (
                      <>
                        {n.title}
                        <br />
                      </>
                    ) : null}
                    <code>{n.event}</code>
                    {n.event_config.level !== undefined ? ` (level ${n.event_config.level})` : ''}
                  </td>
                  <td data-label="Method">{n.method}</td>
                  <td data-label="URL">
                    <code>{n.config.url}</code>
                  </td>
                  <td data-label="State" className="state">
                    {n.enabled ? <span className="badge public">enabled</span> : <span className="badge private">disabled</span>}{' '}
                    {n.number_of_failures} failure{n.number_of_failures === 1 ? '' : 's'}
                    {n.last_error ? <div className="hint">Last error: {n.last_error}</div> : null}
                  </td>
                  <td data-label="Actions">
                    <button type="button" onClick={() => act('Test notification queued.', () => api('POST', `${path}${enc(n.uuid)}/test`))}>
                      Send test
                    </button>
                    {!n.enabled ? (
                      <button type="button" onClick={() => act('Notification re-enabled.', () => api('POST', `${path}${enc(n.uuid)}`))}>
                        Re-enable
                      </button>
                    ) : null}
                    <ConfirmButton
                      label="Delete"
                      question="Delete this notification?"
                      onConfirm={() => act('Notification deleted.', () => api('DELETE', `${path}${enc(n.uuid)}`))}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-notif">
        <h3 id="new-notif">Create a notification</h3>
        {created ? (
          <div className="notice" role="status">
            Created. Signing secret (shown once; requests carry X-Berth-Signature: sha256=HMAC of the body):{' '}
            <code>{created.signing_secret}</code>
          </div>
        ) : null}
        <Select
          label="When"
          name="notif-event"
          value={event}
          onChange={setEvent}
          options={[
            ['repo_push', 'A push updates a tag'],
            ['vulnerability_found', 'A new vulnerability is found'],
          ]}
        />
        {event === 'vulnerability_found' ? (
          <Select label="Minimum severity" name="notif-level" value={level} onChange={setLevel} options={LEVELS} />
        ) : null}
        <Select
          label="Send as"
          name="notif-method"
          value={method}
          onChange={setMethod}
          options={[
            ['webhook', 'Webhook (JSON POST)'],
            ['slack', 'Slack incoming webhook'],
          ]}
        />
        <Field
          label="URL"
          name="notif-url"
          value={url}
          onChange={setUrl}
          error={f.errors.url}
          required
          placeholder="https://hooks.example.com/registry"
        />
        <Field label="Title (optional)" name="notif-title" value={title} onChange={setTitle} maxLength={255} />
        <FormError message={f.errors.form} />
        <button type="submit" className="primary" disabled={f.busy}>
          Create notification
        </button>
      </form>
    </section>
  );
}
