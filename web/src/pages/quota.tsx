// Storage quotas (docs/QUOTAS.md): an organization's quota, its usage bar and its Warning/Reject limits; superusers
// set, change and remove them. The repository list shows each repository's size (RepoSize).
import { useState } from 'react';
import { api, enc, formatBytes } from '../api';
import { ConfirmButton, Field, FormError, Select, useForm } from '../ui';

export interface QuotaReport {
  quota_bytes: number;
  configured_quota: number | null;
  severity_level?: 'Warning' | 'Reject' | null;
  percent_consumed?: number | null;
}
interface QuotaLimit {
  id: number;
  type: 'Warning' | 'Reject';
  limit_percent: number;
}
export interface Quota {
  id: number;
  limit_bytes: number;
  limits: QuotaLimit[];
}

const UNITS: [string, string][] = [
  ['1048576', 'MiB'],
  ['1073741824', 'GiB'],
  ['1099511627776', 'TiB'],
];

/** A whole number of bytes from "amount" x unit, or an error message. */
function toBytes(amount: string, unit: string): number | string {
  if (!/^\d+(\.\d+)?$/.test(amount.trim())) return 'Enter a positive number, for example 10 or 2.5.';
  const bytes = Math.round(Number(amount) * Number(unit));
  return bytes > 0 ? bytes : 'The quota must be larger than 0.';
}

export function UsageBar({ report, label }: { report: QuotaReport; label: string }) {
  const limit = report.configured_quota;
  const pct = limit ? Math.min(100, (report.quota_bytes * 100) / limit) : 0;
  const level = report.severity_level ?? null;
  return (
    <div className="quota-usage">
      <div>
        <strong>{formatBytes(report.quota_bytes)}</strong> used
        {limit ? (
          <>
            {' '}
            of {formatBytes(limit)} ({(report.percent_consumed ?? Math.round(pct * 10) / 10).toString()}%)
          </>
        ) : (
          ' (no quota)'
        )}
        {level ? (
          <span className={`badge quota-${level.toLowerCase()}`}>
            {level === 'Reject' ? 'over the Reject limit' : 'over a Warning limit'}
          </span>
        ) : null}
      </div>
      {limit ? (
        <div
          className={`quota-bar${level ? ` quota-${level.toLowerCase()}` : ''}`}
          role="progressbar"
          aria-label={label}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(pct)}
        >
          <div style={{ width: `${pct}%` }} />
        </div>
      ) : null}
    </div>
  );
}

export function QuotaPanel(props: { org: string; report: QuotaReport; quotas: Quota[]; superuser: boolean; reload: () => void }) {
  const { org, report, superuser, reload } = props;
  const quota = props.quotas[0];
  const base = `/organization/${enc(org)}/quota`;
  return (
    <section className="card quota-panel" aria-labelledby="quota-title">
      <h2 id="quota-title">Storage quota</h2>
      <UsageBar report={report} label={`Storage used by ${org}`} />
      {quota ? (
        <>
          <LimitsTable base={`${base}/${quota.id}`} quota={quota} superuser={superuser} reload={reload} />
          {superuser ? (
            <div className="quota-actions">
              <QuotaSizeForm
                title="Change the quota"
                submitLabel="Save quota"
                initial={quota.limit_bytes}
                onBytes={(limit_bytes) => api('PUT', `${base}/${quota.id}`, { limit_bytes })}
                reload={reload}
              />
              <AddLimitForm base={`${base}/${quota.id}`} reload={reload} />
              <ConfirmButton
                label="Remove quota"
                confirmLabel="Yes, remove"
                question={`Remove the quota of ${org} and its limits?`}
                onConfirm={async () => {
                  await api('DELETE', `${base}/${quota.id}`);
                  reload();
                }}
              />
            </div>
          ) : null}
        </>
      ) : superuser ? (
        <QuotaSizeForm
          title="Set a quota"
          submitLabel="Set quota"
          onBytes={(limit_bytes) => api('POST', base, { limit_bytes })}
          reload={reload}
        />
      ) : (
        <p className="muted">No quota is set for this organization. A superuser can set one.</p>
      )}
    </section>
  );
}

function LimitsTable({ base, quota, superuser, reload }: { base: string; quota: Quota; superuser: boolean; reload: () => void }) {
  if (!quota.limits.length) return <p className="muted">No limits: usage is reported, nothing is refused or warned about.</p>;
  return (
    <table className="quota-limits">
      <caption>Limits</caption>
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col">Threshold</th>
          <th scope="col">At</th>
          {superuser ? <th scope="col">Actions</th> : null}
        </tr>
      </thead>
      <tbody>
        {quota.limits.map((l) => (
          <LimitRow key={l.id} base={base} limit={l} quotaBytes={quota.limit_bytes} superuser={superuser} reload={reload} />
        ))}
      </tbody>
    </table>
  );
}

function LimitRow(props: { base: string; limit: QuotaLimit; quotaBytes: number; superuser: boolean; reload: () => void }) {
  const { base, limit, quotaBytes, superuser, reload } = props;
  const [editing, setEditing] = useState(false);
  const [pct, setPct] = useState(String(limit.limit_percent));
  const f = useForm<'pct'>(
    () => ({ pct: /^\d+$/.test(pct) && Number(pct) >= 1 && Number(pct) <= 100 ? undefined : 'Enter a whole number from 1 to 100.' }),
    async () => {
      await api('PUT', `${base}/limit/${limit.id}`, { threshold_percent: Number(pct) });
      setEditing(false);
      reload();
    },
    () => 'pct',
  );
  return (
    <tr>
      <td>{limit.type}</td>
      <td>{limit.limit_percent}%</td>
      <td>{formatBytes(Math.floor((quotaBytes * limit.limit_percent) / 100))}</td>
      {superuser ? (
        <td>
          {editing ? (
            <form onSubmit={f.onSubmit} noValidate className="inline-form">
              <Field label={`${limit.type} threshold (%)`} name="threshold" value={pct} onChange={setPct} error={f.errors.pct} />
              <button type="submit" className="primary" disabled={f.busy}>
                Save
              </button>
              <button type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <>
              <button type="button" onClick={() => setEditing(true)}>
                Edit {limit.type} limit
              </button>{' '}
              <ConfirmButton
                label={`Remove ${limit.type} limit`}
                confirmLabel="Yes, remove"
                question={`Remove the ${limit.type} limit at ${limit.limit_percent}%?`}
                onConfirm={async () => {
                  await api('DELETE', `${base}/limit/${limit.id}`);
                  reload();
                }}
              />
            </>
          )}
        </td>
      ) : null}
    </tr>
  );
}

function QuotaSizeForm(props: {
  title: string;
  submitLabel: string;
  initial?: number;
  onBytes: (bytes: number) => Promise<unknown>;
  reload: () => void;
}) {
  // The largest unit that shows the current size as at least 1 (1 MiB, not 0.001 GiB).
  const start = props.initial ? ([...UNITS].reverse().find(([u]) => props.initial! >= Number(u))?.[0] ?? UNITS[0][0]) : '1073741824';
  const [amount, setAmount] = useState(props.initial ? String(Math.round((props.initial / Number(start)) * 1000) / 1000) : '');
  const [unit, setUnit] = useState(start);
  const f = useForm<'amount'>(
    () => {
      const b = toBytes(amount, unit);
      return { amount: typeof b === 'string' ? b : undefined };
    },
    async () => {
      await props.onBytes(toBytes(amount, unit) as number);
      props.reload();
    },
    () => 'amount',
  );
  return (
    <form onSubmit={f.onSubmit} noValidate className="inline-form" aria-label={props.title}>
      <Field label="Quota size" name="quota-size" value={amount} onChange={setAmount} error={f.errors.amount} />
      <Select label="Unit" name="quota-unit" value={unit} onChange={setUnit} options={UNITS} />
      <button type="submit" className="primary" disabled={f.busy}>
        {props.submitLabel}
      </button>
    </form>
  );
}

function AddLimitForm({ base, reload }: { base: string; reload: () => void }) {
  const [type, setType] = useState('Warning');
  const [pct, setPct] = useState('80');
  const f = useForm<'pct' | 'form'>(
    () => ({ pct: /^\d+$/.test(pct) && Number(pct) >= 1 && Number(pct) <= 100 ? undefined : 'Enter a whole number from 1 to 100.' }),
    async () => {
      await api('POST', `${base}/limit`, { type, threshold_percent: Number(pct) });
      reload();
    },
    () => 'form',
  );
  return (
    <form onSubmit={f.onSubmit} noValidate className="inline-form" aria-label="Add a limit">
      <Select
        label="Limit type"
        name="limit-type"
        value={type}
        onChange={setType}
        options={[
          ['Warning', 'Warning'],
          ['Reject', 'Reject'],
        ]}
      />
      <Field label="Threshold (%)" name="limit-threshold" value={pct} onChange={setPct} error={f.errors.pct} />
      <FormError message={f.errors.form} />
      <button type="submit" className="primary" disabled={f.busy}>
        Add limit
      </button>
    </form>
  );
}

/** A repository's size in the repository list (Quay's quota_report.quota_bytes). */
export function RepoSize({ report }: { report?: QuotaReport }) {
  return report ? <span className="badge repo-size">{formatBytes(report.quota_bytes)}</span> : null;
}
