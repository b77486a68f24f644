// Every request reaches the handlers as an object of one class with one set of fields, whatever its route: the /v2
// routes and GET /metrics share Fastify's root context (one Request class) and the fields Berth's
// hooks set are declared (decorateRequest) instead of added per request. Code on the GET path that reads them (the
// metrics hook, Fastify itself) then meets no new hidden class when another kind of request comes in, such as a
// scrape: that used to deoptimise the optimised GET path (docs/PERFORMANCE.md, "Metrics, seventh round").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { startServer } from './helpers/server.ts';
import { pushImage } from './helpers/registry-client.ts';

test('/v2 requests and scrapes share one request class and one field layout', async () => {
  const s = await startServer('sqlite');
  // Fastify publishes each handler call on this channel with its request and reply.
  const seen = new Map<string, { proto: object; keys: string[]; replyProto: object }>();
  const onStart = (msg: unknown) => {
    const { request, reply } = msg as { request: Record<string, unknown> & { url: string }; reply: object };
    const url = request.url.split('?')[0];
    if (!seen.has(url))
      seen.set(url, { proto: Object.getPrototypeOf(request), keys: Object.keys(request), replyProto: Object.getPrototypeOf(reply) });
  };
  const channel = diagnostics.tracingChannel('fastify.request.handler');
  channel.start.subscribe(onStart);
  try {
    const image = await pushImage(s.url, 'shape/app', 'v1');
    const urls = [
      '/v2/shape/app/manifests/v1',
      `/v2/shape/app/blobs/${image.config.digest}`,
      '/v2/',
      '/metrics',
      '/v2/shape/app/manifests/missing',
    ];
    for (const u of urls) {
      const r = await fetch(`${s.url}${u}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      await r.arrayBuffer();
      assert.equal(r.status, u.endsWith('/missing') ? 404 : 200, u);
    }
    const manifest = seen.get(urls[0]);
    assert.ok(manifest, 'the manifest GET reached its handler');
    for (const u of urls.slice(1)) {
      const other = seen.get(u);
      assert.ok(other, `${u} reached a handler`);
      assert.equal(other.proto, manifest.proto, `${u}: another Request class than the manifest GET's`);
      assert.equal(other.replyProto, manifest.replyProto, `${u}: another Reply class than the manifest GET's`);
      assert.deepEqual(other.keys, manifest.keys, `${u}: other request fields (or order) than the manifest GET's`);
    }
    for (const field of ['routePattern', 'registryMatch', 'principal']) assert.ok(manifest.keys.includes(field), field);
  } finally {
    channel.start.unsubscribe(onStart);
    await s.stop();
  }
});
