// Whether a request comes from this machine: its socket peer and its client address (req.ip, which follows
// X-Forwarded-For only from TRUSTED_PROXIES) are loopback, and it carries no forwarding header (a proxy on this
// machine that Berth was not told about still forwards for someone else).
import type { FastifyRequest } from 'fastify';

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export function isLoopbackCaller(req: FastifyRequest): boolean {
  if (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined)
    return false;
  return isLoopback(req.socket.remoteAddress) && isLoopback(req.ip);
}
