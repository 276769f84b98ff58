#!/usr/bin/env python3
"""Where the time of a warm-box step goes, from a scheduler trace.

Runs `moat bench` under `perf record -a` with the scheduler tracepoints
(switch, wakeup, fork, exec, exit: cheap, no per-syscall tracing), then cuts
every bare run and every warm-box step into phases:

    start   bare: the host forks; box: the step message wakes box init
    exec    the program's execve has loaded the binary
    exit    the program starts to exit
    end     the host runs again

and reports, per phase, the median CPU time each kind of task used on all CPUs
(the program, its box init, the host, the pool's spawner, other boxes being
made or torn down, kernel workers, everything else, idle) and how long the
step's own processes sat runnable waiting for a CPU.

    bench/step_breakdown.py [--runs N] [--moat PATH] [-- PROGRAM ARGS...]
    bench/step_breakdown.py --script FILE   # analyse an earlier `perf script`

Needs root and perf. Default program: /usr/bin/true.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

LINE = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$')
KV = re.compile(r'(\w+)=(\S+)')
EVENTS = ('sched_switch', 'sched_wakeup', 'sched_process_exec', 'sched_process_exit',
          'sched_process_fork')
CATS = ('the program', 'its box init', 'host (moat bench)', 'spawner', 'other boxes',
        'kernel workers', 'other processes', 'idle', 'waiting for a CPU: the program',
        'waiting for a CPU: its box init', 'waiting for a CPU: host')
PHASES = ('whole run', 'start -> exec', 'exec -> exit', 'exit -> host runs')
WARMUP = 10  # `moat bench` does not count its first ten runs either
IDLE_US = 300
STEP_US = 20000  # a step message is never older than this when the program starts


def record(moat, runs, argv, out):
    data = out + '.data'
    cmd = ['perf', 'record', '-q', '-a', '-o', data]
    for e in EVENTS:
        cmd += ['-e', 'sched:' + e]
    cmd += ['--', moat, 'bench', '--runs', str(runs), '--json', '--'] + argv
    res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    print('moat bench:', res.stdout.strip())
    with open(out, 'w') as f:
        subprocess.run(['perf', 'script', '-i', data, '-F', 'comm,pid,tid,cpu,time,event,trace'],
                       stdout=f, stderr=subprocess.DEVNULL, check=True)
    os.unlink(data)


def parse(path):
    evs = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                _, _, tid, cpu, t, ev, rest = m.groups()
                evs.append((float(t) * 1e6, int(cpu), int(tid), ev.split(':')[-1], rest))
    evs.sort(key=lambda e: e[0])
    return evs


def overlap(ivs, a, b):
    return sum(min(y, b) - max(x, a) for x, y in ivs if y > a and x < b)


class Trace:
    def __init__(self, evs):
        self.parent, self.execs, self.exits, self.forked = {}, {}, {}, {}
        self.running = defaultdict(list)   # pid -> [(t0, t1)] on a CPU
        self.waiting = defaultdict(list)   # pid -> [(t0, t1)] runnable, not running
        self.switch_in = defaultdict(list)
        self.sleeps = defaultdict(list)    # pid -> [t] switched out not runnable
        self.wakes = []                    # (t, waker, target)
        self.comm = {}
        self.host = None
        cur, since = {}, {}
        for t, cpu, tid, ev, rest in evs:
            kv = dict(KV.findall(rest.replace(' ==> ', ' ')))
            if ev == 'sched_switch':
                prev, nxt = int(kv['prev_pid']), int(kv['next_pid'])
                if cpu in cur:
                    self.running[cur[cpu][0]].append((cur[cpu][1], t))
                cur[cpu] = (nxt, t)
                self.comm.setdefault(prev, kv['prev_comm'])
                self.comm.setdefault(nxt, kv['next_comm'])
                self.switch_in[nxt].append(t)
                if kv['prev_state'].startswith('R'):
                    since[prev] = t
                else:
                    since.pop(prev, None)
                    self.sleeps[prev].append(t)
                if nxt in since:
                    self.waiting[nxt].append((since.pop(nxt), t))
            elif ev == 'sched_wakeup':
                target = int(kv['pid'])
                self.wakes.append((t, tid, target))
                if all(c[0] != target for c in cur.values()):
                    since.setdefault(target, t)
            elif ev == 'sched_process_exec':
                pid = int(kv['pid'])
                if self.host is None and rest.split()[0].endswith('/moat'):
                    self.host = pid
                self.execs.setdefault(pid, t)
            elif ev == 'sched_process_exit':
                self.exits.setdefault(int(kv['pid']), t)
            elif ev == 'sched_process_fork':
                self.parent[int(kv['child_pid'])] = int(kv['pid'])
                self.forked[int(kv['child_pid'])] = t
        if self.host is None:
            sys.exit('no exec of moat in the trace')
        self.spawner = min(c for c, p in self.parent.items() if p == self.host)

    def in_box(self, pid):
        for _ in range(8):
            if pid not in self.parent:
                return False
            pid = self.parent[pid]
            if pid == self.spawner:
                return True
        return False

    def classify(self, pid, prog, binit):
        if pid == prog:
            return 'the program'
        if pid == binit:
            return 'its box init'
        if pid == self.host:
            return 'host (moat bench)'
        if pid == 0:
            return 'idle'
        if pid == self.spawner:
            return 'spawner'
        if self.in_box(pid):
            return 'other boxes'
        if self.comm.get(pid, '').startswith('kworker'):
            return 'kernel workers'
        return 'other processes'

    def next_in(self, pid, t):
        return next((x for x in self.switch_in[pid] if x >= t), None)

    def windows(self):
        out = []
        wakes_of = defaultdict(list)
        for t, waker, target in self.wakes:
            wakes_of[target].append((t, waker))
        for child, p in self.parent.items():
            if child not in self.execs or child not in self.exits:
                continue
            if p == self.host and child != self.spawner:
                # A bare run starts when the host forks.
                kind, binit = 'bare', None
                start = self.forked.get(child)
            elif self.parent.get(p) == self.spawner:
                # A box step (p is its box init) starts when the step
                # message wakes box init: its last wake-up before it wakes
                # the program (the "go" message) that the host made (or the
                # idle task, for a wake-up queued to box init's CPU) and
                # that ends a sleep of over IDLE_US (shorter ones are waits
                # on kernel locks). When box init was still running as the
                # step came (it had just said it was ready), the step starts
                # when the host went to sleep after sending it.
                kind, binit = 'box', p
                go = [t for t, w in wakes_of[child] if w in (p, 0) and t < self.execs[child]]
                if not go:
                    continue
                start = None
                for t, waker in wakes_of[p]:
                    if t >= go[-1]:
                        break
                    slept = [x for x in self.sleeps[p] if x <= t]
                    if (waker in (self.host, 0) and slept and t - slept[-1] > IDLE_US
                            and go[-1] - t < STEP_US):
                        start = t
                if start is None:
                    slept = [x for x in self.sleeps[self.host] if x <= go[-1]]
                    start = slept[-1] if slept and go[-1] - slept[-1] < STEP_US else None
            else:
                continue
            # Either way the run ends when the host next gets a CPU after
            # the program's exit: it is blocked in wait4 or in a read of the
            # box's socket until then (a wake-up it gets before the exit is
            # a spurious one, e.g. when box init drains the step message).
            end = self.next_in(self.host, self.exits[child])
            if start is None or end is None:
                continue
            out.append((kind, start, self.execs[child], self.exits[child], end, child, binit))
        out.sort(key=lambda x: x[1])
        return out


def report(tr):
    pids = list(tr.running)
    for kind in ('bare', 'box'):
        ws = [w for w in tr.windows() if w[0] == kind][WARMUP:]
        if not ws:
            continue
        phase_len = defaultdict(list)
        use = defaultdict(list)
        for _, a, ex, xt, b, prog, binit in ws:
            bounds = dict(zip(PHASES, ((a, b), (a, ex), (ex, xt), (xt, b))))
            for ph, (pa, pb) in bounds.items():
                phase_len[ph].append(pb - pa)
                acc = defaultdict(float)
                for pid in pids:
                    c = overlap(tr.running[pid], pa, pb)
                    if c:
                        acc[tr.classify(pid, prog, binit)] += c
                for pid, k in ((prog, 'the program'), (binit, 'its box init'), (tr.host, 'host')):
                    if pid is not None:
                        acc['waiting for a CPU: ' + k] += overlap(tr.waiting.get(pid, ()), pa, pb)
                for k in CATS:
                    use[(ph, k)].append(acc.get(k, 0.0))
        title = 'bare fork+execve' if kind == 'bare' else 'warm box step'
        print(f'\n{title}: {len(ws)} runs')
        print(f"  {'us':<34}" + ''.join(f'{p:>18}' for p in PHASES))
        print(f"  {'median length':<34}" +
              ''.join(f'{statistics.median(phase_len[p]):18.0f}' for p in PHASES))
        print(f"  {'p90 length':<34}" +
              ''.join(f'{statistics.quantiles(phase_len[p], n=10)[-1]:18.0f}' for p in PHASES))
        print('  median CPU time on both CPUs (medians do not add up):')
        for k in CATS:
            if kind == 'bare' and k.endswith('box init'):
                continue
            print(f'  {k:<34}' + ''.join(f'{statistics.median(use[(p, k)]):18.0f}' for p in PHASES))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=300)
    ap.add_argument('--moat', default=os.path.join(os.path.dirname(__file__), '..', 'build', 'moat'))
    ap.add_argument('--script', help='analyse this `perf script` output instead of recording')
    ap.add_argument('argv', nargs='*', default=['/usr/bin/true'])
    a = ap.parse_args()
    if a.script:
        report(Trace(parse(a.script)))
        return
    with tempfile.TemporaryDirectory(prefix='moat-trace.') as d:
        path = os.path.join(d, 'sched.txt')
        record(os.path.abspath(a.moat), a.runs, a.argv, path)
        report(Trace(parse(path)))


if __name__ == '__main__':
    main()
