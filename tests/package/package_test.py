#!/usr/bin/env python3
"""The Debian package, installed into a fresh root: `make deb`'s CPack run
builds it; its control data (name, version, the shared libraries it
depends on, the conffile) is checked; it is unpacked into an empty
directory, and the moat found there says the same version and commit as
the build, runs a program with `moat run` and serves a job with `moat
serve` reading the package's /etc/moat/moat.ini, its languages.ini found
under its own prefix (../share/moat).

  package_test.py BUILD_DIR
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.dont_write_bytecode = True
from e2e_util import Failure, check, wait_for  # noqa: E402


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                          **kw)


def build_deb(build, out):
    r = run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"),
             "-B", out], cwd=build, timeout=300)
    check(r.returncode == 0, "cpack makes the package", r.stdout[-2000:] + r.stderr[-2000:])
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    check(len(debs) == 1, "one .deb", debs)
    return os.path.join(out, debs[0])


def control(deb, version):
    info = run(["dpkg-deb", "-f", deb]).stdout
    fields = dict(re.findall(r"^(\S+): (.*)$", info, re.M))
    check(fields.get("Package") == "moat" and fields.get("Version") == version
          and fields.get("Architecture") == "amd64", "name, version, architecture", fields)
    depends = fields.get("Depends", "")
    for lib in ("libc6", "libmicrohttpd12", "libsqlite3-0", "libpq5", "libcurl4", "libnats"):
        check(lib in depends, f"depends on {lib}", depends)
    check("python3" in fields.get("Recommends", ""), "recommends the languages", fields)
    with tempfile.TemporaryDirectory() as ctl:
        check(run(["dpkg-deb", "-e", deb, ctl]).returncode == 0, "control area extracted")
        with open(os.path.join(ctl, "conffiles")) as f:
            check(f.read().split() == ["/etc/moat/moat.ini"], "the ini is a conffile")


def contents(deb, root):
    check(run(["dpkg-deb", "-x", deb, root]).returncode == 0, "unpacked")
    for path in ("usr/bin/moat", "usr/bin/moat-server", "usr/share/moat/languages.ini",
                 "etc/moat/moat.ini", "usr/share/man/man1/moat.1", "usr/share/man/man1/moat-run.1",
                 "usr/share/man/man1/moat-serve.1", "usr/share/man/man1/moat-worker.1",
                 "usr/share/man/man5/moat.ini.5", "usr/share/doc/moat/LICENSE",
                 "usr/share/doc/moat/CHANGELOG.md", "lib/systemd/system/moat.service",
                 "lib/systemd/system/moat-worker.service"):
        check(os.path.exists(os.path.join(root, path)), f"/{path} installed")
    check(os.path.isdir(os.path.join(root, "var/lib/moat")), "/var/lib/moat made")
    names = run(["dpkg-deb", "-c", deb]).stdout
    check("asan" not in names and "tests/" not in names, "no sanitized binary, no test", names)
    for page in ("man1/moat.1", "man1/moat-run.1", "man5/moat.ini.5"):
        r = run(["man", "--warnings", "-l", os.path.join(root, "usr/share/man", page)],
                env=dict(os.environ, MANWIDTH="80"))
        check(r.returncode == 0 and "moat" in r.stdout and not r.stderr.strip(),
              f"{page} renders without warnings", r.stderr[-2000:])


def moat_run(moat, tmp):
    prog = os.path.join(tmp, "hello.py")
    with open(prog, "w") as f:
        f.write("print('from the package')\n")
    r = run([moat, "run", "--json", "--run-dir", os.path.join(tmp, "run"), prog], cwd=tmp)
    check(r.returncode == 0, "moat run from the package", r.stdout + r.stderr)
    res = json.loads(r.stdout)
    check(res["verdict"] == "ok" and res["stdout"] == "from the package\n", "the program ran",
          res)


def moat_serve(moat, root, tmp):
    log_path = os.path.join(tmp, "serve.log")
    cmd = [moat, "serve", "--config", os.path.join(root, "etc/moat/moat.ini"), "--listen",
           "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"), "--run-dir",
           os.path.join(tmp, "run"), "--cache-dir", os.path.join(tmp, "cache"),
           "--cgroup-name", f"moat-pkg-{os.getpid()}"]
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        def port():
            with open(log_path) as f:
                m = re.search(r"event=listening .* port=(\d+)", f.read())
            return int(m.group(1)) if m else None
        base = f"http://127.0.0.1:{wait_for('moat serve listens', port, 30)}"
        wait_for("moat serve is ready", lambda: ready(base), 30)
        req = urllib.request.Request(
            base + "/v1/jobs?wait=true", method="POST",
            data=json.dumps({"language": "python", "code": "print(6 * 7)"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            job = json.loads(r.read())
        check(job["status"] == "completed" and job["verdict"] == "ok" and job["output"] == "42\n",
              "a job served by the package's moat", job)
        with urllib.request.urlopen(base + "/v1/version", timeout=10) as r:
            return json.loads(r.read())
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        with open(log_path) as f:
            text = f.read()
        check(rc == 0, "moat serve stops cleanly on SIGTERM", text[-3000:])


def ready(base):
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def main():
    build = os.path.abspath(sys.argv[1])
    built = run([os.path.join(build, "moat"), "--version"]).stdout.strip()
    m = re.fullmatch(r"moat (\S+) \(commit (\S+), release\)", built)
    check(m, "the build's moat --version", built)
    version, commit = m.group(1), m.group(2)
    with tempfile.TemporaryDirectory(prefix="moat-pkg-") as tmp:
        deb = build_deb(build, os.path.join(tmp, "out"))
        control(deb, version)
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        contents(deb, root)
        moat = os.path.join(root, "usr/bin/moat")
        said = run([moat, "--version"]).stdout.strip()
        check(said == built, "the installed moat is the build's", (said, built))
        check(not os.path.exists("/etc/moat/languages.ini"),
              "this host has no /etc/moat/languages.ini that would hide the package's")
        moat_run(moat, tmp)
        v = moat_serve(moat, root, tmp)
        check(v["version"] == version and v["commit"] == commit, "GET /v1/version of the package",
              v)
    print("ok package: built, controlled, unpacked, moat run and moat serve from it")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
