// Organizations: list and create; one organization's repositories, teams with members, robot accounts; delete.
import { useState } from 'react';
import { api, enc, type Repo, type User } from '../api';
import { Link, navigate } from '../router';
import { LogsView } from './logs';
import {
  checkName,
  Command,
  ConfirmButton,
  Empty,
  ErrorBox,
  Field,
  FormError,
  Loading,
  Panel,
  Select,
  TableHead,
  Tabs,
  useAsync,
  useForm,
} from '../ui';
import { RepoList } from './repos';
import { QuotaPanel, type Quota, type QuotaReport } from './quota';
import { ProxyCacheSection } from './proxy-cache';

export function OrgsPage({ user, reloadUser }: { user: User; reloadUser: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const f = useForm<'name' | 'email'>(
    () => ({
      name: checkName(name, 'organization name') ?? (name.length < 2 ? 'Use at least 2 characters.' : undefined),
      email: !email || /^[^\s@]+@[^\s@]+$/.test(email) ? undefined : 'Enter a valid email address or leave it empty.',
    }),
    async () => {
      await api('POST', '/organization/', { name, ...(email ? { email } : {}) });
      await reloadUser();
      navigate(`/organization/${enc(name)}`);
    },
    (e) => (/email/.test(e.message) ? 'email' : e.status === 401 ? 'form' : 'name'),
  );
  return (
    <>
      <h1>Organizations</h1>
      <section aria-labelledby="my-orgs">
        <h2 id="my-orgs">Your organizations</h2>
        {user.organizations.length === 0 ? (
          <Empty>You are not in any organization yet. Create one below to share repositories with teams and robots.</Empty>
        ) : (
          <ul className="list">
            {user.organizations.map((o) => (
              <li key={o.name}>
                <Link href={`/organization/${enc(o.name)}`}>{o.name}</Link>
              </li>
            ))}
          </ul>
        )}
      </section>
      <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-org">
        <h2 id="new-org">Create an organization</h2>
        <Field
          label="Organization name"
          name="org-name"
          value={name}
          onChange={setName}
          error={f.errors.name}
          required
          hint="Lowercase letters, digits, and . _ - between them."
        />
        <Field label="Email (optional)" name="org-email" type="email" value={email} onChange={setEmail} error={f.errors.email} />
        <FormError message={f.errors.form} />
        <button type="submit" className="primary" disabled={f.busy}>
          Create organization
        </button>
      </form>
    </>
  );
}

interface Org {
  name: string;
  is_admin: boolean;
  is_member: boolean;
  email?: string;
  teams?: Record<string, { name: string; role: string; description: string | null; member_count: number }>;
  quotas?: Quota[];
  quota_report?: QuotaReport;
}

export function OrgPage({ org, user, reloadUser }: { org: string; user: User; reloadUser: () => Promise<void> }) {
  const o = useAsync(() => api<Org>('GET', `/organization/${enc(org)}`), [org]);
  const [tab, setTab] = useState<'repos' | 'teams' | 'robots' | 'logs' | 'proxy'>('repos');
  if (o.loading && !o.data) return <Loading />;
  if (o.error)
    return (
      <>
        <h1>{org}</h1>
        <ErrorBox error={o.error} />
      </>
    );
  const data = o.data!;
  const tabs: [typeof tab, string][] = [['repos', 'Repositories']];
  if (data.is_member) tabs.push(['teams', 'Teams and members']);
  if (data.is_admin) tabs.push(['robots', 'Robot accounts'], ['logs', 'Logs']);
  if (data.is_admin) tabs.push(['proxy', 'Proxy cache']);
  return (
    <>
      <div className="page-head">
        <h1>
          <span className="muted">Organization</span> {data.name}
        </h1>
        {data.is_admin ? (
          <ConfirmButton
            label="Delete organization"
            question={`Delete ${data.name} with all its repositories, teams and robots?`}
            onConfirm={async () => {
              await api('DELETE', `/organization/${enc(org)}`);
              await reloadUser();
              navigate('/organizations');
            }}
          />
        ) : null}
      </div>
      {data.quota_report ? (
        <QuotaPanel org={org} report={data.quota_report} quotas={data.quotas ?? []} superuser={user.super_user} reload={o.reload} />
      ) : null}
      <Tabs label="Organization sections" tabs={tabs} value={tab} onChange={setTab} />
      {tab === 'repos' ? (
        <Panel id="repos">
          <RepoList user={user} namespace={org} />
        </Panel>
      ) : null}
      {tab === 'teams' ? (
        <Panel id="teams">
          <Teams org={org} data={data} reload={o.reload} />
        </Panel>
      ) : null}
      {tab === 'robots' ? (
        <Panel id="robots">
          <Robots owner={org} />
        </Panel>
      ) : null}
      {tab === 'proxy' ? (
        <Panel id="proxy">
          <ProxyCacheSection org={org} />
        </Panel>
      ) : null}
      {tab === 'logs' ? (
        <Panel id="logs">
          <LogsView base={`/organization/${enc(org)}`} title="Logs" />
        </Panel>
      ) : null}
    </>
  );
}

function Teams({ org, data, reload }: { org: string; data: Org; reload: () => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState('member');
  const [open, setOpen] = useState<string>();
  const f = useForm<'name' | 'role'>(
    () => ({
      name: /^[a-z][a-z0-9_]{0,63}$/.test(name)
        ? undefined
        : 'Start with a lowercase letter; then up to 63 lowercase letters, digits or "_".',
    }),
    async () => {
      await api('PUT', `/organization/${enc(org)}/team/${enc(name)}`, { role });
      setName('');
      reload();
    },
    (e) => (/role/.test(e.message) ? 'role' : 'name'),
  );
  const teams = Object.values(data.teams ?? {});
  return (
    <>
      <h2>Teams</h2>
      {teams.length === 0 ? (
        <Empty>No teams yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <TableHead caption={`Teams of ${org}`} columns={['Team', 'Role', 'Members']} actions />
            <tbody>
              {teams.map((t) => (
                <tr key={t.name}>
                  <td data-label="Team">{t.name}</td>
                  <td data-label="Role">{t.role}</td>
                  <td data-label="Members">{t.member_count}</td>
                  <td className="actions">
                    <button type="button" aria-expanded={open === t.name} onClick={() => setOpen(open === t.name ? undefined : t.name)}>
                      {open === t.name ? 'Hide members' : 'Members'}
                      <span className="sr-only"> of {t.name}</span>
                    </button>
                    {data.is_admin && t.name !== 'owners' ? (
                      <ConfirmButton
                        label={`Delete`}
                        question={`Delete team ${t.name}?`}
                        onConfirm={async () => {
                          await api('DELETE', `/organization/${enc(org)}/team/${enc(t.name)}`);
                          reload();
                        }}
                      />
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open ? <Members org={org} team={open} admin={data.is_admin} onChange={reload} /> : null}
      {data.is_admin ? (
        <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-team">
          <h3 id="new-team">Create a team</h3>
          <Field label="Team name" name="team-name" value={name} onChange={setName} error={f.errors.name} required />
          <Select
            label="Role"
            name="team-role"
            value={role}
            onChange={setRole}
            error={f.errors.role}
            options={[
              ['member', 'Member: only what the repositories grant'],
              ['creator', 'Creator: may create repositories'],
              ['admin', 'Admin: administers the organization'],
            ]}
          />
          <button type="submit" className="primary" disabled={f.busy}>
            Create team
          </button>
        </form>
      ) : null}
    </>
  );
}

function Members({ org, team, admin, onChange }: { org: string; team: string; admin: boolean; onChange: () => void }) {
  const m = useAsync(() => api<TeamMembers>('GET', `/organization/${enc(org)}/team/${enc(team)}/members`), [org, team]);
  const synced = m.data?.synced;
  const [member, setMember] = useState('');
  const f = useForm<'member'>(
    () => ({ member: member.trim() ? undefined : 'Enter a username or a robot name (org+robot).' }),
    async () => {
      await api('PUT', `/organization/${enc(org)}/team/${enc(team)}/members/${enc(member.trim())}`);
      setMember('');
      m.reload();
      onChange();
    },
    () => 'member',
  );
  return (
    <section className="card" aria-labelledby="members-h">
      <h3 id="members-h">Members of {team}</h3>
      {m.loading && !m.data ? (
        <Loading />
      ) : m.error ? (
        <ErrorBox error={m.error} />
      ) : m.data!.members.length === 0 ? (
        <Empty>This team has no members.</Empty>
      ) : (
        <ul className="list">
          {m.data!.members.map((x) => (
            <li key={x.name}>
              <span>
                {x.name} {x.kind === 'robot' ? <span className="badge">robot</span> : null}
              </span>
              {admin && (!synced || x.kind === 'robot') ? (
                <ConfirmButton
                  label="Remove"
                  question={`Remove ${x.name} from ${team}?`}
                  confirmLabel="Yes, remove"
                  onConfirm={async () => {
                    await api('DELETE', `/organization/${enc(org)}/team/${enc(team)}/members/${enc(x.name)}`);
                    m.reload();
                    onChange();
                  }}
                />
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {m.data ? (
        <TeamSync
          org={org}
          team={team}
          admin={admin}
          data={m.data}
          onChange={() => {
            m.reload();
            onChange();
          }}
        />
      ) : null}
      {admin ? (
        <form onSubmit={f.onSubmit} noValidate className="inline-form">
          <Field
            label={synced ? 'Add a robot' : 'Add a user or robot'}
            name="member"
            value={member}
            onChange={setMember}
            error={f.errors.member}
            placeholder={synced ? `${org}+robot` : `someone or ${org}+robot`}
          />
          <button type="submit" disabled={f.busy}>
            Add member
          </button>
        </form>
      ) : null}
    </section>
  );
}

interface TeamMembers {
  members: { name: string; kind: string }[];
  can_edit?: boolean;
  can_sync?: { service: string; base_dn?: string; providers?: string[] };
  synced?: { service: string; config: { group_dn?: string; group_name?: string }; last_updated: string | null; last_error?: string };
}

/** Team sync: the group a team follows (LDAP group_dn or an OpenID group), or a form to link one. */
function TeamSync({
  org,
  team,
  admin,
  data,
  onChange,
}: {
  org: string;
  team: string;
  admin: boolean;
  data: TeamMembers;
  onChange: () => void;
}) {
  const [group, setGroup] = useState('');
  const ldap = data.can_sync?.service === 'ldap';
  const f = useForm<'group'>(
    () => ({
      group: group.trim()
        ? undefined
        : ldap
          ? 'Enter the group DN relative to the base DN, e.g. cn=developers,ou=groups.'
          : 'Enter the group name of the group claim.',
    }),
    async () => {
      await api(
        'POST',
        `/organization/${enc(org)}/team/${enc(team)}/syncing`,
        ldap ? { group_dn: group.trim() } : { group_name: group.trim() },
      );
      setGroup('');
      onChange();
    },
    () => 'group',
  );
  const s = data.synced;
  if (s) {
    const what =
      s.service === 'ldap' ? `directory group ${s.config.group_dn}` : `group ${s.config.group_name} (${s.service.replace(/^oidc:/, '')})`;
    return (
      <div className="notice team-sync" role="status">
        <p>
          Synced with the {what}:{' '}
          {s.service === 'ldap'
            ? "the group's users are the team's members"
            : 'users join or leave when they sign in with or without the group in their claim'}
          {s.last_updated ? ` (last synced ${new Date(s.last_updated).toLocaleString()})` : ' (not synced yet)'}. Users cannot be added or
          removed by hand.
        </p>
        {s.last_error ? <p className="form-error">Last sync failed: {s.last_error}</p> : null}
        {admin && data.can_sync ? (
          <ConfirmButton
            label="Stop syncing"
            question={`Stop syncing ${team} with its group? The members stay.`}
            confirmLabel="Yes, stop"
            onConfirm={async () => {
              await api('DELETE', `/organization/${enc(org)}/team/${enc(team)}/syncing`);
              onChange();
            }}
          />
        ) : null}
      </div>
    );
  }
  if (!admin || !data.can_sync) return null;
  return (
    <form onSubmit={f.onSubmit} noValidate className="inline-form">
      <Field
        label={ldap ? `Sync with a directory group (relative to ${data.can_sync.base_dn})` : 'Sync with a group of the group claim'}
        name="sync-group"
        value={group}
        onChange={setGroup}
        error={f.errors.group}
        placeholder={ldap ? 'cn=developers,ou=groups' : 'developers'}
      />
      <button type="submit" disabled={f.busy}>
        Sync with group
      </button>
    </form>
  );
}

/** Robot accounts of an organization (or of the signed-in user when owner is undefined). */
export function Robots({ owner }: { owner: string }) {
  const base = `/organization/${enc(owner)}/robots`;
  const list = useAsync(() => api<{ robots: { name: string; created: string }[] }>('GET', base), [owner]);
  const [short, setShort] = useState('');
  const [shown, setShown] = useState<{ name: string; token: string }>();
  const f = useForm<'short'>(
    () => ({
      short: /^[a-z][a-z0-9_]{0,63}$/.test(short)
        ? undefined
        : 'Start with a lowercase letter; then up to 63 lowercase letters, digits or "_".',
    }),
    async () => {
      const r = await api<{ name: string; token: string }>('PUT', `${base}/${enc(short)}`);
      setShown(r);
      setShort('');
      list.reload();
    },
    () => 'short',
  );
  const shortOf = (full: string) => full.slice(full.indexOf('+') + 1);
  return (
    <>
      <h2>Robot accounts</h2>
      <p className="muted">
        Robots log in to the registry with a token. They get only the permissions you grant them on repositories or through teams.
      </p>
      {shown ? <RobotToken robot={shown} onClose={() => setShown(undefined)} /> : null}
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : list.data!.robots.length === 0 ? (
        <Empty>No robot accounts yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <TableHead caption={`Robot accounts of ${owner}`} columns={['Robot', 'Created']} actions />
            <tbody>
              {list.data!.robots.map((r) => (
                <tr key={r.name}>
                  <td data-label="Robot">
                    <code>{r.name}</code>
                  </td>
                  <td data-label="Created">{new Date(r.created).toLocaleString()}</td>
                  <td className="actions">
                    <ConfirmButton
                      className=""
                      label="Regenerate token"
                      question={`Replace the token of ${r.name}? The old one stops working.`}
                      confirmLabel="Yes, regenerate"
                      onConfirm={async () =>
                        setShown(await api<{ name: string; token: string }>('POST', `${base}/${enc(shortOf(r.name))}/regenerate`))
                      }
                    />
                    <ConfirmButton
                      label="Delete"
                      question={`Delete ${r.name}?`}
                      onConfirm={async () => {
                        await api('DELETE', `${base}/${enc(shortOf(r.name))}`);
                        if (shown?.name === r.name) setShown(undefined);
                        list.reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="card" onSubmit={f.onSubmit} noValidate aria-labelledby="new-robot">
        <h3 id="new-robot">Create a robot account</h3>
        <Field
          label="Robot name"
          name="robot-name"
          value={short}
          onChange={setShort}
          error={f.errors.short}
          required
          hint={`The robot will be called ${owner}+${short || 'name'}.`}
        />
        <button type="submit" className="primary" disabled={f.busy}>
          Create robot
        </button>
      </form>
    </>
  );
}

function RobotToken({ robot, onClose }: { robot: { name: string; token: string }; onClose: () => void }) {
  const host = location.host;
  return (
    <section className="card token" aria-labelledby="token-h">
      <h3 id="token-h">Token of {robot.name}</h3>
      <p>
        <strong>Copy it now.</strong> Berth keeps only a digest of it and cannot show it again.
      </p>
      <Command label="robot token" text={robot.token} />
      <p>Log in with it:</p>
      <Command label="podman login command" text={`podman login ${host} -u '${robot.name}' -p '${robot.token}'`} />
      <Command
        label="berth login command"
        text={`printf '%s' '${robot.token}' | berth login ${host} -u '${robot.name}' --password-stdin`}
      />
      <button type="button" onClick={onClose}>
        I have copied it
      </button>
    </section>
  );
}

export type { Repo };
