// Registry health for superusers: counts, storage used, scanner data age; and creating users.
import { useState } from 'react';
import { api, ApiError, formatBytes, type User } from '../api';
import { Empty, ErrorBox, Field, FormError, Loading, useAsync, useForm } from '../ui';
import { endpointMissing } from './repos';
import { LogsView } from './logs';

interface Stats {
  organizations: number;
  users: number;
  robots: number;
  repositories: number;
  manifests: number;
  tags: number;
  blobs: number;
  storage_bytes: number;
  scanner: null | {
    updaters: { name: string; records: number; updated_at: number; checked_at: number }[];
    newest_update: number | null;
    data_age_seconds: number | null;
  };
}

function age(seconds: number | null): string {
  if (seconds === null) return 'never updated';
  if (seconds < 90) return `${seconds} s old`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min old`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h old`;
  return `${Math.round(seconds / 86400)} days old`;
}

export function AdminPage({ user }: { user: User }) {
  const s = useAsync(() => api<Stats>('GET', '/superuser/stats'), []);
  if (!user.super_user)
    return (
      <>
        <h1>Registry health</h1>
        <ErrorBox error={new ApiError(403, 'Only administrators can see the registry health.')} />
      </>
    );
  return (
    <>
      <h1>Registry health</h1>
      {s.loading && !s.data ? (
        <Loading />
      ) : endpointMissing(s.error) ? (
        <Empty>Registry statistics are not available on this server.</Empty>
      ) : s.error ? (
        <ErrorBox error={s.error} />
      ) : (
        <>
          <ul className="stats" aria-label="Registry counts">
            {(
              [
                ['Organizations', s.data!.organizations],
                ['Repositories', s.data!.repositories],
                ['Users', s.data!.users],
                ['Robots', s.data!.robots],
                ['Tags', s.data!.tags],
                ['Manifests', s.data!.manifests],
              ] as [string, number][]
            ).map(([l, n]) => (
              <li key={l} className="stat">
                <span className="n">{n}</span>
                <span className="l">{l}</span>
              </li>
            ))}
            <li className="stat">
              <span className="n">{formatBytes(s.data!.storage_bytes)}</span>
              <span className="l">Storage used ({s.data!.blobs} blobs)</span>
            </li>
          </ul>
          <section className="card" aria-labelledby="scanner-h">
            <h2 id="scanner-h">Scanner data</h2>
            {!s.data!.scanner ? (
              <Empty>The vulnerability scanner is not part of this server.</Empty>
            ) : s.data!.scanner.updaters.length === 0 ? (
              <Empty>No vulnerability data yet: run the updaters or import a bundle.</Empty>
            ) : (
              <>
                <p>
                  Newest data is <strong>{age(s.data!.scanner.data_age_seconds)}</strong>.
                </p>
                <div className="table-wrap">
                  <table>
                    <caption className="sr-only">Updaters</caption>
                    <thead>
                      <tr>
                        <th scope="col">Updater</th>
                        <th scope="col">Records</th>
                        <th scope="col">Updated</th>
                        <th scope="col">Checked</th>
                      </tr>
                    </thead>
                    <tbody>
                      {s.data!.scanner.updaters.map((u) => (
                        <tr key={u.name}>
                          <td data-label="Updater">{u.name}</td>
                          <td data-label="Records">{u.records}</td>
                          <td data-label="Updated">{new Date(u.updated_at).toLocaleString()}</td>
                          <td data-label="Checked">{new Date(u.checked_at).toLocaleString()}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </section>
        </>
      )}
      <section className="card">
        <LogsView base="/superuser" title="Logs of the whole registry" />
      </section>
      <CreateUser onCreated={s.reload} />
    </>
  );
}

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [done, setDone] = useState<string>();
  const f = useForm<'username' | 'email' | 'password'>(
    () => ({
      username:
        /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/.test(username) && username.length >= 2
          ? undefined
          : 'Use 2 to 255 lowercase letters and digits, separated by ".", "_" or "-".',
      email: !email || /^[^\s@]+@[^\s@]+$/.test(email) ? undefined : 'Enter a valid email address or leave it empty.',
      password: password.length >= 8 ? undefined : 'The password must have at least 8 characters.',
    }),
    async () => {
      await api('POST', '/user/', { username, password, ...(email ? { email } : {}) });
      setDone(`User ${username} created.`);
      setUsername('');
      setEmail('');
      setPassword('');
      onCreated();
    },
    (e) =>
      /password/.test(e.message) ? 'password' : /email/.test(e.message) ? 'email' : /name|taken|user/.test(e.message) ? 'username' : 'form',
  );
  return (
    <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-user">
      <h2 id="new-user">Create a user</h2>
      {done ? (
        <div className="notice" role="status">
          {done}
        </div>
      ) : null}
      <Field
        label="Username"
        name="new-username"
        value={username}
        onChange={setUsername}
        error={f.errors.username}
        required
        autoComplete="off"
      />
      <Field label="Email (optional)" name="new-email" type="email" value={email} onChange={setEmail} error={f.errors.email} />
      <Field
        label="Password"
        name="new-password"
        type="password"
        value={password}
        onChange={setPassword}
        error={f.errors.password}
        required
        autoComplete="new-password"
      />
      <FormError message={f.errors.form} />
      <button type="submit" className="primary" disabled={f.busy}>
        Create user
      </button>
    </form>
  );
}
