// Quay's repository notification events and their payloads (notifications/__init__.py and
// notificationevent.py in Quay): repo_push and vulnerability_found, the event data every method sends,
// Quay's severity levels (event_config.level), and the Slack message of each event.
export const NOTIFICATION_EVENTS = ['repo_push', 'vulnerability_found'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export const NOTIFICATION_METHODS = ['webhook', 'slack'] as const;
export type NotificationMethod = (typeof NOTIFICATION_METHODS)[number];

/** Quay's PRIORITY_LEVELS indexes (util/secscan): a smaller index is more severe. */
export const PRIORITY_INDEX: Record<string, number> = { Defcon1: 0, Critical: 1, High: 2, Medium: 3, Low: 4, Negligible: 5, Unknown: 6 };

export interface EventData {
  repository: string;
  namespace: string;
  name: string;
  docker_url: string;
  homepage: string;
  [k: string]: unknown;
}

export function repositoryEventData(publicUrl: string, repository: string, extra: Record<string, unknown>): EventData {
  const i = repository.indexOf('/');
  const host = new URL(publicUrl).host;
  return {
    repository,
    namespace: repository.slice(0, i),
    name: repository.slice(i + 1),
    docker_url: `${host}/${repository}`,
    homepage: `${publicUrl.replace(/\/$/, '')}/repository/${repository}`,
    ...extra,
  };
}

/** Quay's test data for an event ("Test notification" button and POST …/test). */
export function sampleEventData(
  publicUrl: string,
  repository: string,
  event: NotificationEvent,
  eventConfig: Record<string, unknown>,
): EventData {
  if (event === 'repo_push') return repositoryEventData(publicUrl, repository, { updated_tags: ['latest', 'foo'], pruned_image_count: 3 });
  const level = Number(eventConfig.level ?? 1);
  const priority = Object.entries(PRIORITY_INDEX).find(([, i]) => i === level)?.[0] ?? 'Unknown';
  return repositoryEventData(publicUrl, repository, {
    tags: ['latest', 'prod', 'foo', 'bar', 'baz'],
    image: 'some-image-id',
    vulnerability: {
      id: 'CVE-FAKE-CVE',
      description: 'A futurist vulnerability',
      link: 'https://security-tracker.debian.org/tracker/CVE-FAKE-CVE',
      priority,
    },
  });
}

/** VulnerabilityFoundEvent.should_perform: no level configured, or the vulnerability is at least that severe. */
export function shouldPerform(event: string, eventConfig: Record<string, unknown>, data: EventData): boolean {
  if (event !== 'vulnerability_found' || eventConfig.level === undefined) return true;
  const v = data.vulnerability as { priority?: string } | undefined;
  const actual = PRIORITY_INDEX[v?.priority ?? 'Unknown'];
  return actual !== undefined && actual <= Number(eventConfig.level);
}

/** event_config.level given as an index (Quay's UI sends "3") or a severity name ("Medium"). */
export function parseLevel(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' && Object.hasOwn(PRIORITY_INDEX, v)) return PRIORITY_INDEX[v];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d$/.test(v) ? Number(v) : NaN;
  if (Number.isInteger(n) && n >= 0 && n <= 6) return n;
  throw new Error(`eventConfig.level must be a severity (${Object.keys(PRIORITY_INDEX).join(', ')}) or its index 0-6`);
}

/** The one-line summary (Quay's get_summary). */
export function summary(event: string, data: EventData): string {
  if (event === 'repo_push') return `Repository ${data.repository} updated`;
  const v = data.vulnerability as { priority?: string } | undefined;
  return `${v?.priority ?? 'Unknown'} vulnerability detected in repository ${data.repository} in ${(data.tags as unknown[] | undefined)?.length ?? 0} tags`;
}

/** Quay's level of an event, for the Slack attachment colour. */
function color(event: string, data: EventData): string {
  if (event === 'repo_push') return 'good';
  const p = (data.vulnerability as { priority?: string } | undefined)?.priority;
  return p === 'Critical' || p === 'Defcon1' ? 'danger' : p === 'High' || p === 'Medium' ? 'warning' : '#ffffff';
}

function slackText(event: string, data: EventData): string {
  if (event === 'repo_push') {
    const tags = (data.updated_tags as string[] | undefined) ?? [];
    return `Repository <${data.homepage}|${data.repository}> has been pushed with the following tags updated: ${tags.map((t) => `*${t}*`).join(', ')}`;
  }
  const v = data.vulnerability as { id?: string; link?: string; priority?: string; description?: string } | undefined;
  return (
    `A ${v?.priority ?? 'Unknown'} vulnerability <${v?.link ?? data.homepage}|${v?.id ?? ''}> was found in repository <${data.homepage}|${data.repository}>` +
    ` (tags ${((data.tags as string[] | undefined) ?? []).join(', ')}): ${v?.description ?? ''}`
  );
}

/** The request body of a delivery: Quay's webhook posts the event data; Slack gets Slack's message shape. */
export function methodBody(method: string, event: string, data: EventData): unknown {
  if (method === 'slack') {
    const s = summary(event, data);
    return {
      text: s,
      username: 'berth',
      attachments: [{ fallback: s, text: slackText(event, data), color: color(event, data), mrkdwn_in: ['text'] }],
    };
  }
  return data;
}
