// The shell: who is signed in, the first-run screen, navigation, and the page for the current path.
import { useEffect, useState } from 'react';
import { api, onSessionExpired, setCsrf, type User } from './api';
import { Link, navigate, useLocation } from './router';
import { Loading } from './ui';
import { SetupPage, SignInPage, type ExternalLogin } from './pages/auth';
import { OrgPage, OrgsPage } from './pages/orgs';
import { RepoPage, ReposPage } from './pages/repos';
import { ManifestPage } from './pages/manifest';
import { AdminPage } from './pages/admin';

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [needsAdmin, setNeedsAdmin] = useState(false);
  const [external, setExternal] = useState<ExternalLogin[]>([]);
  const [needsCode, setNeedsCode] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [menuOpen, setMenuOpen] = useState(false);
  const { path } = useLocation();

  const loadUser = async () => {
    try {
      const u = await api<User>('GET', '/user/', undefined, { quiet401: true });
      setCsrf(u.csrf_token);
      setUser(u);
    } catch {
      setUser(null);
      const s = await api<{ needs_admin: boolean; needs_code?: boolean; external_login?: ExternalLogin[] }>('GET', '/setup').catch(() => ({
        needs_admin: false,
        needs_code: false,
        external_login: [],
      }));
      setNeedsAdmin(s.needs_admin);
      setNeedsCode(!!s.needs_code);
      setExternal(s.external_login ?? []);
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on mount: loadUser is recreated on every render, and listing it would reload the user (and re-register the expiry handler) on each one
  useEffect(() => {
    onSessionExpired(() => {
      setCsrf(undefined);
      setUser((u) => {
        if (u) setNotice('Your session has expired. Sign in again to continue.');
        return null;
      });
    });
    void loadUser();
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: path is the trigger: navigating closes the menu
  useEffect(() => {
    setMenuOpen(false);
  }, [path]);
  // A session can expire or be revoked while the page is open: check on every navigation and when the tab
  // gets focus (a 401 switches to the sign-in screen with a notice).
  // biome-ignore lint/correctness/useExhaustiveDependencies: the triggers are navigation (path) and signing in or out (!!user), not every new user object
  useEffect(() => {
    if (!user) return;
    const check = () => {
      api('GET', '/user/').catch(() => undefined);
    };
    check();
    window.addEventListener('focus', check);
    return () => window.removeEventListener('focus', check);
  }, [path, !!user]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: path and user are triggers: each page (or the sign-in screen) renders a new h1 to make focusable
  useEffect(() => {
    const h = document.querySelector('main h1') as HTMLElement | null;
    if (h) {
      h.tabIndex = -1;
    }
  }, [path, user]);

  if (user === undefined) return <Loading label="Loading Berth…" />;

  if (!user) {
    return (
      <div className="auth-shell">
        <div className="brand-large" aria-hidden="true">
          ⚓ Berth
        </div>
        <main id="main">
          {needsAdmin ? (
            <SetupPage
              needsCode={needsCode}
              onDone={async () => {
                setNeedsAdmin(false);
                await loadUser();
                navigate('/', true);
              }}
            />
          ) : (
            <SignInPage
              notice={notice}
              external={external}
              onDone={async () => {
                setNotice(undefined);
                await loadUser();
              }}
            />
          )}
        </main>
      </div>
    );
  }

  const signOut = async () => {
    await api('POST', '/signout').catch(() => undefined);
    setCsrf(undefined);
    setUser(null);
    setNotice('You are signed out.');
    navigate('/', true);
  };

  const nav: [string, string][] = [
    ['/', 'Repositories'],
    ['/organizations', 'Organizations'],
  ];
  if (user.super_user) nav.push(['/admin', 'Registry health']);
  const current = (href: string) =>
    href === '/' ? path === '/' || path.startsWith('/repository') : path.startsWith(href.replace(/s$/, ''));

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand" aria-label="Berth home">
          ⚓ Berth
        </Link>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menuOpen ? 'open' : ''}>
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
          <div className="who">
            <span>
              Signed in as <strong>{user.username}</strong>
              {user.super_user ? ' (admin)' : ''}
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        </nav>
      </header>
      <main id="main">
        <Route path={path} user={user} reloadUser={loadUser} />
      </main>
    </>
  );
}

function Route({ path, user, reloadUser }: { path: string; user: User; reloadUser: () => Promise<void> }) {
  const d = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (path === '/' || path === '/repositories') return <ReposPage user={user} />;
  if (path === '/organizations') return <OrgsPage user={user} reloadUser={reloadUser} />;
  const org = /^\/organization\/([^/]+)\/?$/.exec(path);
  if (org) return <OrgPage org={d(org[1])} user={user} reloadUser={reloadUser} />;
  const manifest = /^\/repository\/(.+)\/manifest\/([^/]+)$/.exec(path);
  if (manifest) return <ManifestPage repo={d(manifest[1])} digest={d(manifest[2])} />;
  const repo = /^\/repository\/(.+?)\/?$/.exec(path);
  if (repo) return <RepoPage repo={d(repo[1])} user={user} />;
  if (path === '/admin') return <AdminPage user={user} />;
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is nothing at <code>{path}</code>. <Link href="/">Go to the repositories</Link>.
      </p>
    </>
  );
}
