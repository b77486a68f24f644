// What the accounts services share: the service context plus the auth settings.
import type { ServiceContext } from '../context.js';
import type { AuthSettings } from '../../config/auth.js';
import type { AccountKind } from '../../db/types.js';

export interface AccountsContext extends ServiceContext {
  auth: AuthSettings;
}

/** Who is calling, once credentials are checked. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user' | 'robot'; id: number; name: string; superuser: boolean; ownerId: number | null; via?: 'password' | 'apptoken' | 'robot' | 'session' };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export interface AccountRow { id: number; name: string; kind: AccountKind; email: string | null; superuser: number; enabled: number; owner_id: number | null; created_at: number }
