// One benchmark client in its own process: @kubernetes/client-node's makeInformer.
// node client.mjs '<spec json>' -- the same spec and the same JSON result line as
// bench/peers/client.py (see its docstring): milestones are stamped inside the
// counting handler with performance.now() and process.cpuUsage() (user + system).
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';

const spec = JSON.parse(process.argv[2]);
const phaseTarget = { events: spec.events || 0, relist: spec.list }[spec.phase] || 0;
const marks = {};
let count = 0;
let nextTarget = spec.list;
let syncedRss = 0;
let synced = false;
let finished = false;

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const mark = (name) => { marks[name] = [performance.now() / 1000, cpu()]; };
const hwmKb = (field = 'VmHWM') => {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch (e) { /* not Linux */ }
  return process.resourceUsage().maxRSS;
};
let heldRss = 0;

function finish(result) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

function report(partial) {
  if (partial || !marks.done) mark('done');
  const [t0, c0] = marks.start;
  const [t1, c1] = marks.synced;
  const [t2, c2] = marks.done;
  finish({ sync_s: t1 - t0, sync_cpu_s: c1 - c0, phase_s: t2 - t1, phase_cpu_s: c2 - c1,
           events: Math.max(0, count - spec.list), synced_rss_kb: syncedRss,
           peak_rss_kb: hwmKb(), held_rss_kb: heldRss, partial });
}

function onSynced() {
  if (spec.phase === 'idle') {
    setTimeout(() => {  // let the sync's aftermath pass, then measure the quiet
      mark('synced');
      setTimeout(() => report(false), spec.idle_s * 1000);
    }, 1000);
  } else if (!phaseTarget) {
    setTimeout(() => { heldRss = hwmKb('VmRSS'); report(false); }, 1000);
  }
}

function hit() {
  count += 1;
  if (count >= nextTarget) {
    if (!synced) {
      synced = true;
      mark('synced');
      syncedRss = hwmKb();
      nextTarget = phaseTarget ? spec.list + phaseTarget : Infinity;
      setImmediate(onSynced);
    } else {
      mark('done');
      nextTarget = Infinity;
      setImmediate(() => report(false));
    }
  }
}
const nothing = () => {};

setTimeout(() => {
  if (!synced) {
    finish({ error: `not synced within ${spec.deadline_s} s (${count} of ${spec.list} objects)` });
  } else {
    report(true);
  }
}, spec.deadline_s * 1000).unref();

const kc = new k8s.KubeConfig();
kc.loadFromFile(spec.kubeconfig);
const api = kc.makeApiClient(k8s.CoreV1Api);
const informer = k8s.makeInformer(kc, '/api/v1/pods', () => api.listPodForAllNamespaces());
for (let i = 0; i < spec.handlers; i++) {
  const h = i === 0 ? hit : nothing;
  informer.on('add', h);
  informer.on('update', h);
  informer.on('delete', h);
}
informer.on('error', (err) => {
  finish({ error: `crashed: ${String(err && err.message || err).split('\n')[0]}` });
});
mark('start');
informer.start().catch((err) => finish({ error: `crashed: ${String(err).split('\n')[0]}` }));
