// An organization's proxy cache configuration (docs/PROXY-CACHE.md): view, validate, set, remove.
import { useState } from 'react';
import { api, enc } from '../api';
import { ConfirmButton, ErrorBox, Field, FormError, Loading, ProxyFields, useAsync, useForm } from '../ui';

interface ProxyCacheView {
  upstream_registry: string;
  expiration_s: number | '';
  insecure: boolean | '';
  upstream_registry_username?: string;
  proxy?: { http_proxy: string | null; https_proxy: string | null; no_proxy: string | null };
}

export function ProxyCacheSection({ org }: { org: string }) {
  const base = `/organization/${enc(org)}`;
  const cfg = useAsync(() => api<ProxyCacheView>('GET', `${base}/proxycache`), [org]);
  const [upstream, setUpstream] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [expiration, setExpiration] = useState('86400');
  const [insecure, setInsecure] = useState(false);
  const [httpProxy, setHttpProxy] = useState('');
  const [httpsProxy, setHttpsProxy] = useState('');
  const [noProxy, setNoProxy] = useState('');
  const [validated, setValidated] = useState<string>();
  const body = () => ({
    upstream_registry: upstream.trim(),
    upstream_registry_username: username || undefined,
    upstream_registry_password: password || undefined,
    expiration_s: Number(expiration),
    insecure,
    ...(httpProxy.trim() || httpsProxy.trim()
      ? { proxy: { http_proxy: httpProxy.trim() || null, https_proxy: httpsProxy.trim() || null, no_proxy: noProxy.trim() || null } }
      : {}),
  });
  const check = () => ({
    upstream: upstream.trim() ? undefined : 'Enter the upstream registry, for example docker.io/library.',
    expiration: /^\d+$/.test(expiration) && Number(expiration) >= 60 ? undefined : 'At least 60 seconds.',
  });
  const f = useForm<'upstream' | 'expiration' | 'http_proxy' | 'https_proxy' | 'no_proxy'>(
    check,
    async () => {
      await api('POST', `${base}/proxycache`, body());
      setPassword('');
      setValidated(undefined);
      cfg.reload();
    },
    (e) => {
      const proxyField = /\bproxy\.(http_proxy|https_proxy|no_proxy)\b/.exec(e.message);
      if (proxyField) return proxyField[1] as 'http_proxy' | 'https_proxy' | 'no_proxy';
      return /expiration/.test(e.message) ? 'expiration' : /upstream_registry\b/.test(e.message) ? 'upstream' : 'form';
    },
  );
  // The outbound proxy to the upstream (docs/PROXY-CACHE.md): optional, refused with a reason per key when malformed.
  const [validating, setValidating] = useState(false);
  const [validateError, setValidateError] = useState<string>();
  const validate = async () => {
    setValidated(undefined);
    setValidateError(undefined);
    setValidating(true);
    try {
      const r = await api<string>('POST', `${base}/validateproxycache`, body());
      setValidated(
        r === 'Anonymous' ? 'The upstream is reachable and lets anonymous clients pull.' : 'The upstream accepted the credentials.',
      );
    } catch (e) {
      setValidateError((e as Error).message);
    } finally {
      setValidating(false);
    }
  };
  if (cfg.loading && !cfg.data) return <Loading />;
  if (cfg.error) return <ErrorBox error={cfg.error} />;
  const c = cfg.data!;
  return (
    <>
      <h2>Proxy cache</h2>
      <p className="muted">
        A proxy cache organization serves <code>{org}/NAME</code> from an upstream registry and keeps what it fetched. Pushes are refused.
      </p>
      {c.upstream_registry ? (
        <section className="card" aria-labelledby="proxy-current">
          <h3 id="proxy-current">Current configuration</h3>
          <dl>
            <dt>Upstream registry</dt>
            <dd>
              <code data-testid="proxy-upstream">{c.upstream_registry}</code>
            </dd>
            <dt>Username</dt>
            <dd>{c.upstream_registry_username ?? 'anonymous'}</dd>
            <dt>Expiration</dt>
            <dd>{c.expiration_s} s</dd>
            <dt>Insecure</dt>
            <dd>{c.insecure ? 'yes (TLS not verified, plain HTTP allowed)' : 'no'}</dd>
            <dt>Outbound proxy</dt>
            <dd data-testid="proxy-outbound">
              {c.proxy
                ? [
                    c.proxy.http_proxy && `http: ${c.proxy.http_proxy}`,
                    c.proxy.https_proxy && `https: ${c.proxy.https_proxy}`,
                    c.proxy.no_proxy && `not for: ${c.proxy.no_proxy}`,
                  ]
                    .filter(Boolean)
                    .join('; ')
                : 'none (direct)'}
            </dd>
          </dl>
          <ConfirmButton
            label="Remove proxy cache"
            question={`Remove the proxy cache configuration of ${org}? Cached repositories stay.`}
            confirmLabel="Yes, remove"
            onConfirm={async () => {
              await api('DELETE', `${base}/proxycache`);
              cfg.reload();
            }}
          />
        </section>
      ) : (
        <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="proxy-new">
          <h3 id="proxy-new">Configure a proxy cache</h3>
          <FormError message={f.errors.form} />
          <Field
            label="Upstream registry"
            name="upstream-registry"
            value={upstream}
            onChange={setUpstream}
            error={f.errors.upstream}
            required
            hint="host[:port] and an optional namespace, without https://, for example docker.io/library"
          />
          <Field label="Upstream username" name="upstream-username" value={username} onChange={setUsername} autoComplete="off" />
          <Field
            label="Upstream password"
            name="upstream-password"
            type="password"
            value={password}
            onChange={setPassword}
            autoComplete="new-password"
          />
          <Field
            label="Expiration (seconds)"
            name="expiration-s"
            value={expiration}
            onChange={setExpiration}
            error={f.errors.expiration}
            hint="How long a cached tag is served before it is checked upstream again."
          />
          <div className="field">
            <label>
              <input type="checkbox" name="insecure" checked={insecure} onChange={(e) => setInsecure(e.target.checked)} /> Insecure (do not
              verify TLS, allow plain HTTP)
            </label>
          </div>
          <ProxyFields
            namePrefix=""
            state={{ http_proxy: [httpProxy, setHttpProxy], https_proxy: [httpsProxy, setHttpsProxy], no_proxy: [noProxy, setNoProxy] }}
            errors={f.errors}
          />
          {validated ? (
            <p role="status" className="ok">
              {validated}
            </p>
          ) : null}
          <FormError message={validateError} />
          <button type="button" onClick={validate} disabled={validating || !upstream.trim()}>
            Validate
          </button>{' '}
          <button type="submit" className="primary" disabled={f.busy}>
            Save proxy cache
          </button>
        </form>
      )}
    </>
  );
}
