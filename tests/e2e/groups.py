"""The runner the end-to-end scripts share: cases grouped by the server they
need, one ctest test per group (SCRIPT --group NAME), `--list` for CMake.

A group with flags runs its cases, one after the other, against one server
started with those flags, which must then stop cleanly on SIGTERM (exit 0,
no process of its box uids, no cgroup left); a group with flags None hands
its cases None and they start what they need themselves.
"""
import argparse
import os
import sys
import time
import traceback

from e2e_util import Failure
from serve_util import Server


class Groups:
    def __init__(self):
        self.groups = {}  # name -> (server flags or None, [case functions])
        self.moat = None  # the binary under test, once main() has read it

    def group(self, name, flags):
        self.groups[name] = (flags, [])

    def case(self, grp):
        def deco(fn):
            self.groups[grp][1].append(fn)
            return fn
        return deco

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
        a = ap.parse_args()
        self.moat = os.path.abspath(a.moat) if os.path.exists(a.moat) else a.moat
        if a.list:
            print("\n".join(self.groups))
            return 0
        if os.geteuid() != 0:
            print("SKIPPED: moat serve runs real sandboxes and needs root")
            return 77
        if a.case:
            grp = [g for g, (_, cs) in self.groups.items() if any(c.__name__ == a.case for c in cs)]
            if not grp:
                print(f"no case {a.case}")
                return 2
            failed = self.run_group(grp[0], a.case)
        else:
            names = [a.group] if a.group else list(self.groups)
            failed = sum(self.run_group(n) for n in names)
        print("passed" if not failed else f"{failed} failed")
        return 1 if failed else 0


def run(groups):
    sys.exit(groups.main())
