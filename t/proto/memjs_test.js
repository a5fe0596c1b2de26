// t/proto/memjs_test.js -- the binary protocol through memjs, a pure-JavaScript binary-protocol
// client for Node.js (npm: memjs 1.3.2, pinned in t/proto/node/package-lock.json): set, get, add,
// replace, append, delete, increment/decrement (creating with an initial value), touch, flush,
// stats (general, settings, reset), version, and 300 requests in flight at once on one connection
// (memjs matches replies to requests by opaque). Expectations were checked against stock memcached
// 1.6.18.
//
// Run by t/proto/memjs_test.sh, which starts the server and passes its port in RC_MEMJS_PORT.
// memjs is loaded from t/proto/node/node_modules (or RC_MEMJS_MODULES). Prints one line per case
// and a final "N passed, M failed"; exits 0 if all passed, 1 otherwise, 77 if memjs is missing.
// A watchdog ends the run after 60 s.
//
// memjs quirks worked around (client bugs, not server behaviour): memjs 1.3.2 has no version()
// call, so Version goes through memjs's own perform() with a request built by its
// Utils.makeRequestBuffer; its prepend() sends the Append opcode (0x0e), so prepend is not tested;
// its increment() result is only right below 2^32.
'use strict';

const path = require('path');

const modules = process.env.RC_MEMJS_MODULES || path.join(__dirname, 'node', 'node_modules');
let memjs;
try {
  memjs = require(path.join(modules, 'memjs'));
} catch (e) {
  console.log(`SKIP: memjs is not installed in ${modules} (npm ci --prefix t/proto/node)`);
  process.exit(77);
}

const port = parseInt(process.env.RC_MEMJS_PORT || '', 10);
if (!(port > 0)) {
  console.log('RC_MEMJS_PORT is not set to the port of the server under test');
  process.exit(99);
}

const watchdog = setTimeout(() => {
  console.log('FAIL  - the memjs test did not finish within 60 s');
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 60000);

// memjs reports server errors through its logger; keep them for failure messages only.
const logged = [];
const logger = { log: (...args) => logged.push(args.join(' ')) };
const client = memjs.Client.create(`127.0.0.1:${port}`, {
  retries: 1, timeout: 3, conntimeout: 3, logger,
});

let passed = 0;
let failed = 0;

class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

function eq(got, want, what) {
  const g = Buffer.isBuffer(got) ? `<Buffer ${got.toString('hex')}>` : JSON.stringify(got);
  const w = Buffer.isBuffer(want) ? `<Buffer ${want.toString('hex')}>` : JSON.stringify(want);
  if (g !== w) throw new Failure(`${what}: expected ${w}, got ${g}`);
}

// stats / statsWithKey have no promise form: one callback per server (here, one).
function stats(key) {
  return new Promise((resolve, reject) => {
    client.statsWithKey(key, (err, _server, result) => (err ? reject(err) : resolve(result)));
  });
}

// Version (opcode 0x0b) through memjs's own request path.
function version() {
  return new Promise((resolve, reject) => {
    client.incrSeq();
    const request = memjs.Utils.makeRequestBuffer(0x0b, '', '', '', client.seq);
    client.perform('', request, client.seq, (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

async function getValue(key) {
  const r = await client.get(key);
  return r.value === null ? null : r.value.toString('latin1');
}

const cases = [
  ['version', async () => {
    const r = await version();
    eq(r.header.status, 0, 'Version status');
    eq(r.val.toString(), '1.6.18', 'Version value');
  }],

  ['set and get', async () => {
    eq(await client.set('k1', 'hello'), true, 'set');
    const r = await client.get('k1');
    eq(r.value, Buffer.from('hello'), 'get value');
    eq(r.flags, Buffer.alloc(4), 'get flags (memjs stores 0)');
    eq(await client.set('k1', 'again'), true, 'overwrite');
    eq(await getValue('k1'), 'again', 'get after overwrite');
    eq((await client.get('nosuchkey')).value, null, 'get miss');
  }],

  ['binary-safe and large values', async () => {
    const bin = Buffer.from([0x80, 0, 0x0d, 0x0a, 0x81, 0xff, 0, 0x0a]);
    eq(await client.set('bin', bin), true, 'set binary');
    eq((await client.get('bin')).value, bin, 'get binary');
    eq(await client.set('empty', ''), true, 'set empty');
    eq((await client.get('empty')).value, Buffer.alloc(0), 'get empty');
    const big = Buffer.alloc(700 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    eq(await client.set('big', big), true, 'set 700 KB');
    check((await client.get('big')).value.equals(big), 'get 700 KB: value differs');
    let tooBig = null;
    try {
      await client.set('big', Buffer.alloc(2 * 1024 * 1024));
    } catch (e) {
      tooBig = e.message;
    }
    check(tooBig !== null && /Value too large|too large/i.test(tooBig),
      `set 2 MB: expected a "too large" error, got ${tooBig}`);
    eq((await client.get('big')).value, null, 'a refused Set removes the old value');
    eq(await client.set('after_big', 'ok'), true, 'set after too large');
  }],

  ['add and replace', async () => {
    eq(await client.add('ar', 'first'), true, 'add new');
    eq(await client.add('ar', 'second'), false, 'add existing');
    eq(await getValue('ar'), 'first', 'value after add existing');
    eq(await client.replace('ar', 'third'), true, 'replace existing');
    eq(await client.replace('ar_missing', 'x'), false, 'replace missing');
    eq(await getValue('ar'), 'third', 'value after replace');
    eq(await getValue('ar_missing'), null, 'replace missing stores nothing');
  }],

  ['append', async () => {
    eq(await client.set('ap', 'mid'), true, 'set');
    eq(await client.append('ap', '>>'), true, 'append');
    eq(await getValue('ap'), 'mid>>', 'value after append');
    let err = null;
    try {
      await client.append('ap_missing', 'x');
    } catch (e) {
      err = e.message;
    }
    // 0x0005 "Not stored." -- memjs turns any status but 0 and 1 into an error.
    check(err !== null && /not stored/i.test(err), `append missing: ${err}`);
  }],

  ['delete', async () => {
    eq(await client.set('d', 'x'), true, 'set');
    eq(await client.delete('d'), true, 'delete');
    eq(await client.delete('d'), false, 'delete again (miss)');
    eq(await getValue('d'), null, 'get after delete');
  }],

  ['increment and decrement', async () => {
    // memjs sends exptime 0: a miss creates the counter with the initial value, delta unused.
    eq(await client.increment('ctr', 5, { initial: 10 }), { success: true, value: 10 },
      'increment miss creates');
    eq(await getValue('ctr'), '10', 'created counter');
    eq(await client.increment('ctr', 5, { initial: 99 }), { success: true, value: 15 },
      'increment');
    eq(await client.decrement('ctr', 3, {}), { success: true, value: 12 }, 'decrement');
    eq(await client.decrement('ctr', 100, {}), { success: true, value: 0 }, 'decrement floors');
    eq(await getValue('ctr'), '0 ', 'value after decrement below its length');
    eq(await client.decrement('ctr2', 1, { initial: 7 }), { success: true, value: 7 },
      'decrement miss creates');
    eq(await client.set('ctr_text', 'abc'), true, 'set text');
    let err = null;
    try {
      await client.increment('ctr_text', 1, {});
    } catch (e) {
      err = e.message;
    }
    check(err !== null && /non-numeric|incr|decr/i.test(err), `increment non-numeric: ${err}`);
    eq(await getValue('ctr_text'), 'abc', 'text value untouched');
  }],

  ['touch and expiry', async () => {
    eq(await client.set('t', 'x'), true, 'set');
    eq(await client.touch('t', 100), true, 'touch hit');
    eq(await client.touch('t_missing', 100), false, 'touch miss');
    eq(await getValue('t'), 'x', 'value after touch');
    // An absolute exptime in the past (> 30 days means a unix time) expires at once.
    eq(await client.touch('t', 1000000000), true, 'touch to the past');
    eq(await getValue('t'), null, 'expired by touch');
    eq(await client.set('e', 'x', { expires: 1000000000 }), true, 'set expired');
    eq(await getValue('e'), null, 'get expired');
    eq(await client.set('e2', 'x', { expires: 3600 }), true, 'set for an hour');
    eq(await getValue('e2'), 'x', 'get live');
  }],

  ['300 requests in flight on one connection', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `pipe_${i}`);
    const sets = await Promise.all(keys.map((k, i) => client.set(k, `v${i}`.repeat(i % 7 + 1))));
    check(sets.every((r) => r === true), 'every pipelined set succeeded');
    const gets = await Promise.all(keys.map((k) => client.get(k)));
    gets.forEach((r, i) => {
      eq(r.value && r.value.toString(), `v${i}`.repeat(i % 7 + 1), `pipelined get ${keys[i]}`);
    });
  }],

  ['stats', async () => {
    const s = await stats('');
    check(/^\d+$/.test(s.pid) && s.pid !== '0', `stats pid: ${s.pid}`);
    eq(s.version, '1.6.18', 'stats version');
    check(parseInt(s.curr_items, 10) > 0, `stats curr_items: ${s.curr_items}`);
    check(parseInt(s.cmd_get, 10) > 0, `stats cmd_get: ${s.cmd_get}`);
    eq(Object.keys(s).length, 92, 'number of general stats');
    const settings = await stats('settings');
    eq(settings.tcpport, String(port), 'stats settings tcpport');
    eq(settings.binding_protocol, 'auto-negotiate', 'stats settings binding_protocol');
    const items = await stats('items');
    check(Object.keys(items).some((k) => /^items:\d+:number$/.test(k)), 'stats items');
    const reset = await new Promise((resolve, reject) => {
      client.resetStats((err, server) => (err ? reject(err) : resolve(server)));
    });
    eq(reset, `127.0.0.1:${port}`, 'stats reset');
    const after = await stats('');
    eq(after.cmd_get, '0', 'cmd_get after reset');
    eq(after.get_hits, '0', 'get_hits after reset');
  }],

  ['flush', async () => {
    eq(await client.set('f1', 'x'), true, 'set');
    const r = await client.flush();
    eq(r, { [`127.0.0.1:${port}`]: true }, 'flush result');
    eq(await getValue('f1'), null, 'get after flush');
    eq(await getValue('k1'), null, 'earlier keys are gone too');
    eq(await client.set('f2', 'y'), true, 'set after flush');
    eq(await getValue('f2'), 'y', 'items set after a flush stay');
  }],
];

(async () => {
  console.log(`# memjs ${require(path.join(modules, 'memjs', 'package.json')).version} ` +
              `against 127.0.0.1:${port}`);
  for (const [name, fn] of cases) {
    const t0 = Date.now();
    logged.length = 0;
    try {
      await fn();
      passed += 1;
      console.log(`ok    - ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL  - ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)\n` +
                  `    ${e instanceof Failure ? e.message : e.stack}`);
      if (logged.length) console.log(`    memjs said: ${logged.join(' | ')}`);
    }
  }
  client.close();
  clearTimeout(watchdog);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();
