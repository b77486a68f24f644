// Holds the response to every write request (POST, PUT, PATCH, DELETE) until the commits made so far are
// durable (src/services/durability.ts). Reads (GET, HEAD) are not held: what they record on the side (pull
// counters, session times) is not something a client was told was stored.
import type { FastifyInstance } from 'fastify';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function holdWritesUntilDurable(app: FastifyInstance, durable: () => Promise<void>): void {
  app.addHook('onSend', async (req, _reply, payload) => {
    if (!READS.has(req.method)) await durable();
    return payload;
  });
}
