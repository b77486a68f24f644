// Config keys of the HTTP edge: which peers are proxies whose forwarding headers count.
import { isIP } from 'node:net';
import { z } from 'zod';

/** An IPv4/IPv6 address or a CIDR range of one. */
export function isAddressOrCidr(v: string): boolean {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const family = isIP(addr);
  if (!family) return false;
  if (slash < 0) return true;
  const bits = v.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export const edgeConfigSchema = {
  /**
   * Berth: addresses or CIDR ranges of the load balancers / reverse proxies in front of Berth. Only a request
   * whose peer is one of them has its X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host honoured (client
   * address for login throttling and logs; scheme and host for the token realm). Empty (the default): none.
   */
  TRUSTED_PROXIES: z
    .array(z.string().refine(isAddressOrCidr, 'must be an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8'), {
      error: (i) => (Array.isArray(i.input) ? undefined : 'must be a list of IP addresses or CIDR ranges'),
    })
    .default([]),
};
