// Sign-in and the first-run screen (create the first administrator).
import { useState } from 'react';
import { api, setCsrf } from '../api';
import { Field, FormError, useForm } from '../ui';

export interface ExternalLogin {
  id: string;
  title: string;
  url: string;
}

export function SignInPage({
  notice,
  external = [],
  onDone,
}: {
  notice?: string;
  external?: ExternalLogin[];
  onDone: () => Promise<void>;
}) {
  // A refused OpenID sign-in comes back here with its reason in ?signin_error=.
  const [signinError] = useState(() => new URLSearchParams(location.search).get('signin_error') ?? undefined);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const f = useForm<'username' | 'password'>(
    () => ({ username: username ? undefined : 'Enter your username.', password: password ? undefined : 'Enter your password.' }),
    async () => {
      const r = await api<{ csrf_token: string }>('POST', '/signin', { username, password }, { quiet401: true });
      setCsrf(r.csrf_token);
      await onDone();
    },
    (e) => (e.status === 401 || e.status === 403 ? 'password' : 'form'),
  );
  return (
    <form className="card auth" onSubmit={f.onSubmit} noValidate aria-labelledby="signin-h">
      <h1 id="signin-h">Sign in</h1>
      {notice ? (
        <div className="notice" role="status">
          {notice}
        </div>
      ) : null}
      {signinError ? (
        <div className="form-error" role="alert">
          Sign-in failed: {signinError}
        </div>
      ) : null}
      {external.map((p) => (
        <a key={p.id} className="button primary external-login" href={p.url}>
          Sign in with {p.title}
        </a>
      ))}
      {external.length ? <p className="muted">or with a username and password:</p> : null}
      <Field
        label="Username"
        name="username"
        value={username}
        onChange={setUsername}
        error={f.errors.username}
        autoComplete="username"
        required
        autoFocus
      />
      <Field
        label="Password"
        name="password"
        type="password"
        value={password}
        onChange={setPassword}
        error={f.errors.password}
        autoComplete="current-password"
        required
      />
      <FormError message={f.errors.form} />
      <button type="submit" className="primary" disabled={f.busy}>
        {f.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

export function SetupPage({ needsCode, onDone }: { needsCode: boolean; onDone: () => Promise<void> }) {
  const [code, setCode] = useState('');
  const [username, setUsername] = useState('admin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const f = useForm<'code' | 'username' | 'email' | 'password' | 'confirm'>(
    () => ({
      code:
        !needsCode || /^[0-9a-fA-F]{32}$/.test(code.trim())
          ? undefined
          : "Enter the 32-character setup code shown on the server's console.",
      username:
        /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/.test(username) && username.length >= 2
          ? undefined
          : 'Use 2 to 255 lowercase letters and digits, separated by ".", "_" or "-".',
      email: !email || /^[^\s@]+@[^\s@]+$/.test(email) ? undefined : 'Enter a valid email address or leave it empty.',
      password: password.length >= 8 ? undefined : 'The password must have at least 8 characters.',
      confirm: confirm === password ? undefined : 'The passwords do not match.',
    }),
    async () => {
      const r = await api<{ csrf_token: string }>(
        'POST',
        '/setup',
        { username, password, ...(email ? { email } : {}), ...(needsCode ? { setup_code: code.trim() } : {}) },
        { quiet401: true },
      );
      setCsrf(r.csrf_token);
      await onDone();
    },
    (e) =>
      /setup code/.test(e.message)
        ? 'code'
        : /password/.test(e.message)
          ? 'password'
          : /email/.test(e.message)
            ? 'email'
            : /name|user/.test(e.message)
              ? 'username'
              : 'form',
  );
  return (
    <form className="card auth" onSubmit={f.onSubmit} noValidate aria-labelledby="setup-h">
      <h1 id="setup-h">Welcome to Berth</h1>
      <p>No account exists yet. Create the first administrator: it can create organizations, users and repositories.</p>
      {needsCode ? (
        <Field
          label="Setup code"
          name="setup_code"
          value={code}
          onChange={setCode}
          error={f.errors.code}
          autoComplete="off"
          required
          maxLength={64}
          hint="Shown on the console where berth serve started, and in the file setup-code in its data directory. Not needed on the server itself."
        />
      ) : null}
      <Field
        label="Administrator username"
        name="username"
        value={username}
        onChange={setUsername}
        error={f.errors.username}
        autoComplete="username"
        required
      />
      <Field
        label="Email (optional)"
        name="email"
        type="email"
        value={email}
        onChange={setEmail}
        error={f.errors.email}
        autoComplete="email"
      />
      <Field
        label="Password"
        name="password"
        type="password"
        value={password}
        onChange={setPassword}
        error={f.errors.password}
        autoComplete="new-password"
        required
        hint="At least 8 characters."
      />
      <Field
        label="Repeat the password"
        name="confirm"
        type="password"
        value={confirm}
        onChange={setConfirm}
        error={f.errors.confirm}
        autoComplete="new-password"
        required
      />
      <FormError message={f.errors.form} />
      <button type="submit" className="primary" disabled={f.busy}>
        {f.busy ? 'Creating…' : 'Create administrator'}
      </button>
    </form>
  );
}
