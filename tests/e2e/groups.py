"""The runner the end-to-end scripts share: cases grouped by the server they
need, one ctest test per group (SCRIPT --group NAME), `--list` for CMake.

A group with flags runs its cases, one after the other, against one server
started with those flags, which must then stop cleanly on SIGTERM (exit 0,
no process of its box uids, no cgroup left); a group with flags None hands
its cases None and they start what they need themselves.

With --cluster, the groups marked cluster=True run again with every server
on the cluster's engines (a throw-away PostgreSQL and NATS JetStream per
group, cluster_util.Engines) instead of SQLite and the in-process queue:
the same cases, the other drivers.
"""
import argparse
import os
import sys
import time
import traceback

from e2e_util import Failure, sweep_dead_runs
from serve_util import Server


class Groups:
    def __init__(self):
        self.groups = {}  # name -> (server flags or None, [case functions])
        self.in_cluster = set()  # the groups that also run on the cluster's engines
        self.moat = None  # the binary under test, once main() has read it

    def group(self, name, flags, cluster=False):
        self.groups[name] = (flags, [])
        if cluster:
            self.in_cluster.add(name)

    def case(self, grp):
        def deco(fn):
            self.groups[grp][1].append(fn)
            return fn
        return deco

    def run_group_on_cluster(self, name, only=None):
        """A group with one server shares one pair of engines; the cases of a
        group without (each starts its own servers, expecting a fresh store)
        get a pair each."""
        from cluster_util import Engines  # only cluster runs need the servers
        flags, cases = self.groups[name]
        runs = [only] if flags is not None else \
            [c.__name__ for c in cases if only is None or c.__name__ == only]
        failed = 0
        for one in runs:
            try:
                # a node killed with jobs taken loses them to the next after
                # the ack wait: 3 s here, not the default 30
                engines = Engines(extra=["--ack-wait", "3"]).start()
            except Exception as e:
                print(f"FAIL {name}: the cluster's engines: {e}")
                failed += 1
                continue
            Server.engines = engines
            try:
                failed += self.run_group(name, one)
            finally:
                Server.engines = None
                engines.close()
        return failed

    def run_group(self, name, only=None):
        flags, cases = self.groups[name]
        cases = [c for c in cases if only is None or c.__name__ == only]
        failed = 0
        srv = None
        try:
            if flags is not None:
                srv = Server(self.moat, flags, label=name)
                try:
                    srv.start()
                except Failure as e:
                    print(f"FAIL {name}: server start: {e}")
                    return len(cases) + 1
            for c in cases:
                t0 = time.monotonic()
                try:
                    c(srv)
                    print(f"ok {c.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
                except Failure as e:
                    failed += 1
                    print(f"FAIL {c.__name__}: {e}", flush=True)
                except Exception:
                    failed += 1
                    print(f"FAIL {c.__name__}: {traceback.format_exc()}", flush=True)
            if srv is not None:
                try:
                    srv.stop()
                    print(f"ok {name}_stop_clean", flush=True)
                except Failure as e:
                    failed += 1
                    print(f"FAIL {name}_stop_clean: {e}", flush=True)
            if failed and srv is not None:
                print(f"server log ({name}), last lines:\n{srv.tail(60)}")
        finally:
            if srv is not None:
                srv.cleanup()
        return failed

    def main(self):
        ap = argparse.ArgumentParser()
        ap.add_argument("--moat", required=True)
        ap.add_argument("--group")
        ap.add_argument("--case")
        ap.add_argument("--list", action="store_true")
        ap.add_argument("--cluster", action="store_true",
                        help="run on PostgreSQL and NATS JetStream")
        a = ap.parse_args()
        names_all = [g for g in self.groups if not a.cluster or g in self.in_cluster]
        run_one = self.run_group_on_cluster if a.cluster else self.run_group
        self.moat = os.path.abspath(a.moat) if os.path.exists(a.moat) else a.moat
        if not a.list:
            for g in sweep_dead_runs():
                print(f"removed the cgroup of a test run that is gone: {g}")
        if a.list:
            print("\n".join(names_all))
            return 0
        if os.geteuid() != 0:
            print("SKIPPED: moat serve runs real sandboxes and needs root")
            return 77
        if a.case:
            grp = [g for g in names_all if any(c.__name__ == a.case for c in self.groups[g][1])]
            if not grp:
                print(f"no case {a.case}")
                return 2
            failed = run_one(grp[0], a.case)
        else:
            names = [a.group] if a.group else names_all
            failed = sum(run_one(n) for n in names)
        print("passed" if not failed else f"{failed} failed")
        return 1 if failed else 0


def run(groups):
    sys.exit(groups.main())
