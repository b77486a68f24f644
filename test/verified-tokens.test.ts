// The verified-token cache must never outlive a token: an entry is served only until the token's own expiry
// (plus the clock tolerance of the full check), and the cache stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VerifiedTokenCache } from '../src/services/accounts/verified-tokens.ts';

const claims = (exp: number) => ({ sub: 'alice', access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }], exp });

test('a cached token is served until its expiry plus the tolerance, then forgotten', () => {
  const cache = new VerifiedTokenCache(30);
  cache.set('tok', claims(1000));
  assert.equal(cache.get('tok', 999_000)?.sub, 'alice');
  assert.equal(cache.get('tok', 1_030_000)?.sub, 'alice', 'inside the 30 s tolerance');
  assert.equal(cache.get('tok', 1_030_001), undefined, 'past expiry + tolerance');
  assert.equal(cache.get('tok', 999_000), undefined, 'an expired entry is dropped, not kept');
  assert.equal(cache.get('other', 0), undefined, 'only the exact token text matches');
});

test('the cache is bounded: the oldest entries go first', () => {
  const cache = new VerifiedTokenCache(30);
  for (let i = 0; i < 5000; i++) cache.set(`t${i}`, claims(10_000));
  assert.equal(cache.get('t0', 0), undefined);
  assert.equal(cache.get('t4999', 0)?.sub, 'alice');
});
