// Shared pieces: fields with their server error, empty states, copy buttons, confirmations, loading.
import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from './api';

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { data?: T; error?: ApiError; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps stand for fn (a new closure on every render); n is the reload trigger
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (e: unknown) => live && setState({ error: toApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: useCallback(() => setN((x) => x + 1), []) };
}

export function toApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e));
}

/** A labelled input with its validation or server error announced to screen readers. */
export function Field(props: {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  type?: string;
  required?: boolean;
  hint?: string;
  autoComplete?: string;
  pattern?: string;
  maxLength?: number;
  autoFocus?: boolean;
  placeholder?: string;
}) {
  const id = useId();
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const describedBy = [props.error ? errId : '', props.hint ? hintId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy}
        autoComplete={props.autoComplete}
        maxLength={props.maxLength}
        // biome-ignore lint/a11y/noAutofocus: opt-in per field, used only where the user has just asked for the form (sign-in, the move-tag form)
        autoFocus={props.autoFocus}
        placeholder={props.placeholder}
      />
      {props.hint ? (
        <div className="hint" id={hintId}>
          {props.hint}
        </div>
      ) : null}
      {props.error ? (
        <div className="field-error" id={errId} role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}

export function Select(props: {
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  options: [string, string][];
  error?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-err` : undefined}
      >
        {props.options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
      {props.error ? (
        <div className="field-error" id={`${id}-err`} role="alert">
          {props.error}
        </div>
      ) : null}
    </div>
  );
}

/** A form that validates locally, then runs `submit`; a server error lands on the field `fieldOf` names. */
export function useForm<F extends string>(
  validate: () => Partial<Record<F | 'form', string>>,
  submit: () => Promise<void>,
  fieldOf: (e: ApiError) => F | 'form',
) {
  const [errors, setErrors] = useState<Partial<Record<F | 'form', string>>>({});
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const v = validate();
    setErrors(v);
    if (Object.values(v).some(Boolean)) {
      focusFirstInvalid(form);
      return;
    }
    setBusy(true);
    try {
      await submit();
      setErrors({});
    } catch (err) {
      const ae = toApiError(err);
      if (ae.status === 401 && !(ae.message || '').includes('password')) {
        setErrors({});
        return;
      }
      setErrors({ [fieldOf(ae)]: ae.message } as Partial<Record<F | 'form', string>>);
      focusFirstInvalid(form);
    } finally {
      setBusy(false);
    }
  };
  return { errors, busy, onSubmit, setErrors };
}

function focusFirstInvalid(form: HTMLFormElement) {
  setTimeout(() => (form.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus(), 0);
}

export function FormError({ message }: { message?: string }) {
  return message ? (
    <div className="form-error" role="alert">
      {message}
    </div>
  ) : null;
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="empty" role="status">
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      {label}
    </div>
  );
}

export function ErrorBox({ error, title }: { error?: ApiError; title?: string }) {
  if (!error) return null;
  const heading =
    title ?? (error.status === 403 || error.status === 401 ? 'No permission' : error.status === 404 ? 'Not found' : 'Something went wrong');
  return (
    <div className="error-box" role="alert">
      <strong>{heading}</strong>
      <p>{error.message}</p>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API refused (http, permissions): select-and-copy fallback.
      const t = document.createElement('textarea');
      t.value = text;
      document.body.appendChild(t);
      t.select();
      document.execCommand('copy');
      t.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 2000);
  };
  return (
    <button type="button" className="small" onClick={copy} aria-label={`Copy ${label}`}>
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

export function Command({ text, label }: { text: string; label: string }) {
  return (
    <div className="command">
      {/* Focusable: a long command scrolls sideways, and the keyboard must be able to scroll it. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable (axe: scrollable-region-focusable) */}
      {/* biome-ignore lint/a11y/useAriaPropsSupportedByRole: the label names the command for assistive technology and matches its Copy button */}
      <code aria-label={label} tabIndex={0}>
        {text}
      </code>
      <CopyButton text={text} label={label} />
    </div>
  );
}

/** A destructive button that asks once more, inline (no browser dialog), and keeps focus inside. */
export function ConfirmButton(props: {
  label: string;
  confirmLabel?: string;
  question: string;
  onConfirm: () => Promise<void> | void;
  className?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const yesRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yesRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <span className="confirm">
        <button
          type="button"
          className={props.className ?? 'danger'}
          onClick={() => {
            setError(undefined);
            setAsking(true);
          }}
        >
          {props.label}
        </button>
        {error ? (
          <span className="field-error" role="alert">
            {error}
          </span>
        ) : null}
      </span>
    );
  }
  return (
    // biome-ignore lint/a11y/useSemanticElements: an inline question in a table cell; a fieldset would bring its own box, border and legend
    <span className="confirm" role="group" aria-label={props.question}>
      <span className="question">{props.question}</span>
      <button
        ref={yesRef}
        type="button"
        className="danger"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
            setAsking(false);
          } catch (e) {
            setError(toApiError(e).message);
            setAsking(false);
          } finally {
            setBusy(false);
          }
        }}
      >
        {props.confirmLabel ?? 'Yes, delete'}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A table's caption (for screen readers) and column headings; `actions` adds an unnamed last column for row buttons. */
export function TableHead({ caption, columns, actions }: { caption: string; columns: string[]; actions?: boolean }) {
  return (
    <>
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
          {actions ? (
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
    </>
  );
}

/** A labelled search box that filters a list as the user types. */
export function SearchBox(props: { id: string; label: string; value: string; onChange: (v: string) => void; placeholder: string }) {
  return (
    <div className="search">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="search"
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        placeholder={props.placeholder}
      />
    </div>
  );
}

export function Pager(props: { page: number; hasNext: boolean; onPage: (p: number) => void; label: string }) {
  if (props.page === 1 && !props.hasNext) return null;
  return (
    <nav className="pager" aria-label={`${props.label} pages`}>
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        Previous
      </button>
      <span aria-live="polite">Page {props.page}</span>
      <button type="button" disabled={!props.hasNext} onClick={() => props.onPage(props.page + 1)}>
        Next
      </button>
    </nav>
  );
}

export function Tabs<T extends string>(props: { tabs: [T, string][]; value: T; onChange: (t: T) => void; label: string }) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const keys = props.tabs.map(([k]) => k);
  const onKey = (e: React.KeyboardEvent) => {
    const i = keys.indexOf(props.value);
    const next =
      e.key === 'ArrowRight' ? keys[(i + 1) % keys.length] : e.key === 'ArrowLeft' ? keys[(i - 1 + keys.length) % keys.length] : undefined;
    if (next) {
      e.preventDefault();
      props.onChange(next);
      refs.current[next]?.focus();
    }
  };
  return (
    <div className="tabs" role="tablist" aria-label={props.label} onKeyDown={onKey}>
      {props.tabs.map(([k, l]) => (
        <button
          key={k}
          ref={(el) => {
            refs.current[k] = el;
          }}
          type="button"
          role="tab"
          id={`tab-${k}`}
          aria-selected={props.value === k}
          aria-controls={`panel-${k}`}
          tabIndex={props.value === k ? 0 : -1}
          onClick={() => props.onChange(k)}
        >
          {l}
        </button>
      ))}
    </div>
  );
}

export function Panel({ id, children }: { id: string; children: ReactNode }) {
  return (
    <section role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} className="panel">
      {children}
    </section>
  );
}

export const NAME_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export function checkName(v: string, what: string): string | undefined {
  if (!v.trim()) return `Enter a ${what}.`;
  if (v.length > 255) return `The ${what} is too long (255 characters at most).`;
  if (!NAME_RE.test(v)) return `Use lowercase letters, digits and . _ - between them (for example "my-${what.split(' ').pop()}").`;
  return undefined;
}

export type ProxyKey = 'http_proxy' | 'https_proxy' | 'no_proxy';
const PROXY_FIELDS: readonly (readonly [ProxyKey, string, string, string])[] = [
  [
    'http_proxy',
    'HTTP proxy',
    'http-proxy',
    "Optional: the proxy for an http:// upstream, http://[user:password@]host:port. With neither proxy set here, the server's HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply",
  ],
  ['https_proxy', 'HTTPS proxy', 'https-proxy', 'Optional: the proxy an https:// upstream is tunnelled through (CONNECT)'],
  ['no_proxy', 'No proxy', 'no-proxy', 'Hosts reached directly, comma-separated: registry.local, .example.com, 10.0.0.5:5000'],
];

/** The outbound proxy fields of a mirror or a proxy cache ({http_proxy, https_proxy, no_proxy}), each with its error. */
export function ProxyFields(props: {
  namePrefix: string;
  state: Record<ProxyKey, readonly [string, (v: string) => void]>;
  errors: Partial<Record<ProxyKey, string>>;
}) {
  return (
    <>
      {PROXY_FIELDS.map(([key, label, name, hint]) => (
        <Field
          key={key}
          label={label}
          name={`${props.namePrefix}${name}`}
          value={props.state[key][0]}
          onChange={props.state[key][1]}
          error={props.errors[key]}
          autoComplete="off"
          hint={hint}
        />
      ))}
    </>
  );
}
