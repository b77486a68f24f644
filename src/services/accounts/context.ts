// What the accounts services share: the service context plus the auth settings.
import type { ServiceContext } from '../context.js';
import type { AuthSettings } from '../../config/auth.js';
import type { AccountKind } from '../../db/types.js';

export interface AccountsContext extends ServiceContext {
  auth: AuthSettings;
}

export { ANONYMOUS, type Principal } from '../principal.js';

export interface AccountRow {
  id: number;
  name: string;
  kind: AccountKind;
  email: string | null;
  superuser: number;
  enabled: number;
  owner_id: number | null;
  created_at: number;
}
