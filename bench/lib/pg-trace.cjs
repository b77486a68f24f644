// Preload (`node --require bench/lib/pg-trace.cjs`) for bench/small-push.mjs --trace: counts what a Berth server sends
// to PostgreSQL through `pg` — round trips (each Client.query), BEGIN/COMMIT/ROLLBACK among them, the statements by
// their first words — and the time spent waiting in Pool.connect. Reports on SIGUSR2 by writing JSON to the file named
// by PG_TRACE_OUT (counters since the previous report), so a bench can take one report per run.
'use strict';
const fs = require('node:fs');
// The server's own pg (its checkout's node_modules), not this checkout's.
const pg = require('node:module').createRequire(process.argv[1])('pg');
let counts = {};
let roundTrips = 0;
let connectWaitMs = 0;
let connects = 0;
let explicit = 0; // BEGIN … COMMIT/ROLLBACK transactions
let autoWrites = 0; // statements outside a transaction that are not a plain select (each its own commit)
let autoReads = 0;
const origQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, values, cb) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    roundTrips++;
    const key = text.trim().replace(/\s+/g, ' ').slice(0, 70);
    counts[key] = (counts[key] ?? 0) + 1;
    const word = key.slice(0, 8).toLowerCase();
    if (/^(begin|start)/.test(word)) this.__tx = true;
    else if (/^(commit|rollback|end)/.test(word)) {
      this.__tx = false;
      explicit++;
    } else if (!this.__tx) {
      if (/^select/.test(word)) autoReads++;
      else autoWrites++;
    }
  }
  return origQuery.call(this, config, values, cb);
};
const origConnect = pg.Pool.prototype.connect;
pg.Pool.prototype.connect = function (cb) {
  const t0 = process.hrtime.bigint();
  connects++;
  const p = origConnect.call(this, cb);
  if (p && typeof p.then === 'function')
    p.then(
      () => (connectWaitMs += Number(process.hrtime.bigint() - t0) / 1e6),
      () => {},
    );
  return p;
};
process.on('SIGUSR2', () => {
  const out = process.env.PG_TRACE_OUT;
  if (!out) return;
  fs.writeFileSync(out, JSON.stringify({ roundTrips, explicit, autoWrites, autoReads, connects, connectWaitMs, statements: counts }));
  counts = {};
  roundTrips = 0;
  connectWaitMs = 0;
  connects = 0;
  explicit = 0;
  autoWrites = 0;
  autoReads = 0;
});
