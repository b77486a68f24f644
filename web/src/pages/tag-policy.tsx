// Tag expiration and immutable tags in the repository page (docs/TAGS.md): the tag table's "Expires" cell (with
// set/clear for writers), the "immutable" mark, and the "Immutable tags" section where admins add and remove rules.
import { useState } from 'react';
import { api, enc, repoPath, type Tag } from '../api';
import { ConfirmButton, Empty, ErrorBox, Field, FormError, Loading, toApiError, useAsync, useForm } from '../ui';

/** A datetime-local value (local time, minutes) for a time in seconds. */
function localInput(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function ImmutableMark({ tag }: { tag: Tag }) {
  return tag.immutable ? (
    <span className="badge immutable" title="An immutability rule protects this tag: it cannot be moved, overwritten, deleted or expire">
      immutable
    </span>
  ) : null;
}

/** The "Expires" cell: when the tag expires (or "Never"); writers set or clear it. */
export function TagExpiry({
  repo,
  tag,
  canWrite,
  onChanged,
}: {
  repo: string;
  tag: Tag;
  canWrite: boolean;
  onChanged: (msg: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(() => localInput(tag.end_ts ?? Math.floor(Date.now() / 1000) + 86400));
  const put = (expiration: number | null) => api('PUT', `/repository/${repoPath(repo)}/tag/${enc(tag.name)}`, { expiration });
  const f = useForm<'expiration'>(
    () => {
      const t = Date.parse(value);
      if (!value || Number.isNaN(t)) return { expiration: 'Give a date and time.' };
      if (t <= Date.now()) return { expiration: 'Give a time in the future.' };
      return {};
    },
    async () => {
      await put(Math.floor(Date.parse(value) / 1000));
      setEditing(false);
      onChanged(`Tag ${tag.name} now expires ${new Date(Date.parse(value)).toLocaleString()}.`);
    },
    () => 'expiration',
  );
  const shown = tag.end_ts ? (
    <time dateTime={new Date(tag.end_ts * 1000).toISOString()}>{new Date(tag.end_ts * 1000).toLocaleString()}</time>
  ) : (
    <span className="muted">Never</span>
  );
  if (!canWrite || tag.immutable) return shown;
  if (!editing)
    return (
      <div className="expiry">
        {shown}
        <div className="action-row">
          <button type="button" onClick={() => setEditing(true)}>
            {tag.end_ts ? 'Change' : 'Set expiration'}
            <span className="sr-only"> of tag {tag.name}</span>
          </button>
          {tag.end_ts ? (
            <ConfirmButton
              label="Clear"
              confirmLabel="Yes, never expire"
              className="secondary"
              question={`Let tag ${tag.name} never expire?`}
              onConfirm={async () => {
                await put(null);
                onChanged(`Tag ${tag.name} no longer expires.`);
              }}
            />
          ) : null}
        </div>
      </div>
    );
  return (
    <form className="expiry-form" onSubmit={f.onSubmit} noValidate aria-label={`Expiration of tag ${tag.name}`}>
      <Field
        label={`Expires (tag ${tag.name})`}
        name="expiration"
        type="datetime-local"
        value={value}
        onChange={setValue}
        error={f.errors.expiration}
        required
        autoFocus
      />
      <FormError message={f.errors.form} />
      <div className="action-row">
        <button type="submit" className="primary" disabled={f.busy}>
          Save expiration
        </button>
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface Policy {
  uuid: string;
  tagPattern: string;
  tagPatternMatches: boolean;
}

/** The repository's immutability rules (admins): list, add, remove. */
export function ImmutabilityRules({ repo, onChanged }: { repo: string; onChanged: () => void }) {
  const base = `/repository/${repoPath(repo)}/immutabilitypolicy/`;
  const rules = useAsync(() => api<{ policies: Policy[] }>('GET', base), [repo]);
  const [pattern, setPattern] = useState('');
  const [matches, setMatches] = useState(true);
  const [note, setNote] = useState<string>();
  const changed = (msg: string) => {
    setNote(msg);
    rules.reload();
    onChanged();
  };
  const f = useForm<'pattern'>(
    () => (pattern.trim() ? {} : { pattern: 'Give a regular expression, such as ^v[0-9]+\\.' }),
    async () => {
      const r = await api<{ uuid: string; expirations_cleared?: number }>('POST', base, {
        tagPattern: pattern,
        tagPatternMatches: matches,
      });
      setPattern('');
      changed(
        `Rule added: tags ${matches ? 'matching' : 'not matching'} ${pattern} are immutable.` +
          (r.expirations_cleared ? ` ${r.expirations_cleared} tag(s) no longer expire.` : ''),
      );
    },
    (e) => (e.status === 400 ? 'pattern' : 'form'),
  );
  return (
    <section aria-labelledby="immutable-h" className="immutable-rules">
      <h2 id="immutable-h">Immutable tags</h2>
      <p className="muted">
        Tags a rule covers cannot be moved, overwritten by a push of another image, deleted or given an expiration. Pushing the same image
        again is fine. A rule is a regular expression matched from the start of the tag name.
      </p>
      {note ? (
        <p role="status" className="notice">
          {note}
        </p>
      ) : null}
      {rules.loading && !rules.data ? (
        <Loading />
      ) : rules.error ? (
        <ErrorBox error={rules.error} />
      ) : rules.data!.policies.length === 0 ? (
        <Empty>No rules: every tag can be moved and deleted.</Empty>
      ) : (
        <ul className="rules">
          {rules.data!.policies.map((p) => (
            <li key={p.uuid}>
              <span>
                Tags {p.tagPatternMatches ? 'matching' : 'not matching'} <code>{p.tagPattern}</code>
              </span>{' '}
              <ConfirmButton
                label="Remove"
                question={`Remove the rule ${p.tagPattern}?`}
                confirmLabel="Yes, remove"
                onConfirm={async () => {
                  try {
                    await api('DELETE', `${base}${enc(p.uuid)}`);
                    changed(`Rule ${p.tagPattern} removed.`);
                  } catch (e) {
                    throw toApiError(e);
                  }
                }}
              />
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={f.onSubmit} noValidate aria-label="Add an immutability rule">
        <Field
          label="Tag pattern"
          name="tag-pattern"
          value={pattern}
          onChange={setPattern}
          error={f.errors.pattern}
          maxLength={256}
          required
        />
        <div className="field">
          <label>
            <input type="checkbox" name="tag-pattern-matches" checked={!matches} onChange={(e) => setMatches(!e.target.checked)} /> Protect
            the tags that do not match instead
          </label>
        </div>
        <FormError message={f.errors.form} />
        <button type="submit" className="primary" disabled={f.busy}>
          Add rule
        </button>
      </form>
    </section>
  );
}
