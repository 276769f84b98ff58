#!/usr/bin/env python3
"""The Piston v2 compatible API end to end (docs/piston.md): POST
/api/v2/execute with every field, encoding, version form and limit, every
stage status, Piston's error messages, GET /api/v2/runtimes, the package
routes, and the npm package piston-client run unchanged against moat.

piston-client is installed from the npm registry into a temporary
directory (npm's cache under the build directory) by the case that runs
it; a registry that cannot be reached fails that case, it is never
skipped.

usage: piston_test.py --moat BUILD/moat-asan [--group G] [--case C] [--list]
"""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check  # noqa: E402
from groups import Groups, run  # noqa: E402

G = Groups()
G.group("piston", [], cluster=True)
# a node that runs nothing, with a queue of one job and a short wait: the
# answers of a run that does not finish in time and of a full queue
G.group("piston_noexec", ["--no-exec", "--max-queue", "1", "--max-wait", "300"])
G.group("piston_nowait", ["--max-wait", "0"])
case = G.case

PISTON_CLIENT = "piston-client@1.0.2"
STAGE_KEYS = ["stdout", "stderr", "output", "code", "signal", "message", "status", "cpu_time",
              "wall_time", "memory"]
# Piston's names of moat's languages where they differ, and Piston's aliases
# that moat's languages.ini does not carry
PISTON_NAMES = {"cpp": "c++"}
PISTON_ALIASES = {"c": ["gcc"], "python": ["py3"], "javascript": ["node-javascript", "node-js"],
                  "ruby": ["ruby3"]}


def execute(srv, body, status=200, **kw):
    r = srv.post("/api/v2/execute", body, **kw)
    check(r.status == status, f"POST /api/v2/execute answers {status}", r)
    check((r.header("content-type") or "").startswith("application/json"), "a JSON answer", r)
    return r.json()


def piston_error(srv, body, status, message, **kw):
    """Piston's error: exactly {"message": message}."""
    got = execute(srv, body, status, **kw)
    check(got == {"message": message}, f"{status} {message!r}", got)


def stage(result, name="run"):
    s = result.get(name)
    check(isinstance(s, dict) and list(s) == STAGE_KEYS, f"the {name} stage has Piston's keys",
          result)
    for k in ("cpu_time", "wall_time", "memory"):
        check(isinstance(s[k], int) and s[k] >= 0, f"{name}.{k} is a count", s)
    return s


def expect_stage(s, stdout, stderr, code, signal, message, status):
    want = {"stdout": stdout, "stderr": stderr, "output": stdout + stderr, "code": code,
            "signal": signal, "message": message, "status": status}
    got = {k: s[k] for k in want}
    check(got == want, "the stage as Piston shows it", (got, want))


def py(code, **extra):
    body = {"language": "python", "version": "*", "files": [{"content": code}]}
    body.update(extra)
    return body


def languages(srv):
    r = srv.get("/v1/languages")
    check(r.status == 200, "GET /v1/languages", r)
    return r.json()


@case("piston")
def runtimes(srv):
    """One runtime per available language: Piston's name, moat's probed
    version, the other names as aliases, "runtime" for node."""
    r = srv.get("/api/v2/runtimes")
    check(r.status == 200, "GET /api/v2/runtimes answers 200", r)
    want = []
    for l in languages(srv):
        name = PISTON_NAMES.get(l["name"], l["name"])
        aliases = ([l["name"]] if name != l["name"] else []) + \
            [a for a in l["aliases"] if a != name] + PISTON_ALIASES.get(l["name"], [])
        rt = {"language": name, "version": l["version"] or "*", "aliases": aliases}
        if l["name"] == "javascript":
            rt["runtime"] = "node"
        want.append(rt)
    check(r.json() == want, "the runtimes are moat's languages", (r.json(), want))
    check(any(x["language"] == "python" for x in want), "python is among them", want)
    r = srv.post("/api/v2/runtimes", {})
    check(r.status == 405 and r.header("allow") == "GET", "POST /api/v2/runtimes: 405, Allow GET",
          r)


@case("piston")
def execute_every_field(srv):
    """Files in all three encodings (the first utf8 one is the main file,
    the others beside it), stdin (ended with a newline, as Piston does),
    args; the answer names the language and moat's version."""
    version = next(l["version"] for l in languages(srv) if l["name"] == "python")
    prog = ("import sys\n"
            "print(sys.argv[1:])\n"
            "print(open('data.bin', 'rb').read())\n"
            "print(open('file3.code').read())\n"
            "import helper; print(helper.X)\n"
            "print(repr(sys.stdin.read()))\n")
    body = {"language": "py", "version": version,
            "files": [{"name": "data.bin", "content": base64.b64encode(b"\x00\x01\xff").decode(),
                       "encoding": "base64"},
                      {"name": "prog.py", "content": prog, "encoding": "utf8"},
                      {"name": "helper.py", "content": "X = 42\n"},
                      {"content": b"hex!".hex(), "encoding": "hex"}],
            "stdin": "line1\nline2", "args": ["a b", "$(id)", "--x"],
            "run_timeout": 5000, "run_cpu_time": 2000, "run_memory_limit": 100000000,
            "compile_timeout": 10000, "compile_cpu_time": 5000, "compile_memory_limit": 100000000}
    got = execute(srv, body)
    check(list(got) == ["language", "version", "run"], "language, version, run (no compile)", got)
    check(got["language"] == "python" and got["version"] == version, "python and its version", got)
    out = ("['a b', '$(id)', '--x']\n"
           "b'\\x00\\x01\\xff'\n"
           "hex!\n"
           "42\n"
           "'line1\\nline2\\n'\n")
    expect_stage(stage(got), out, "", 0, None, None, None)
    check(stage(got)["memory"] > 0 and stage(got)["memory"] % 1024 == 0, "memory in bytes", got)

    # no stdin, no args: none (an empty stdin stays empty)
    got = execute(srv, py("import sys\nprint(sys.argv[1:], repr(sys.stdin.read()))"))
    expect_stage(stage(got), "[] ''\n", "", 0, None, None, None)
    # an empty name is no name (Piston's default)
    got = execute(srv, {"language": "python", "version": "*",
                        "files": [{"content": "import os\nprint(sorted(os.listdir('.')))"},
                                  {"name": "", "content": "x"}]})
    expect_stage(stage(got), "['file1.code', 'main.py']\n", "", 0, None, None, None)
    # a main file without its language's extension is named by moat
    got = execute(srv, {"language": "python", "version": "*",
                        "files": [{"name": "script",
                                   "content": "import os\nprint(os.path.basename(__file__))"}]})
    expect_stage(stage(got), "main.py\n", "", 0, None, None, None)


@case("piston")
def versions(srv):
    """"*", the exact version, partial versions and node-semver ranges
    match moat's version; anything else is Piston's "runtime is unknown"."""
    v = next(l["version"] for l in languages(srv) if l["name"] == "python")
    major, minor, _ = (v.split(".") + ["0", "0"])[:3]
    for rng in ["*", v, major, f"{major}.{minor}", f"{major}.x", f"^{major}.0.0",
                f"~{major}.{minor}", f">={major} <{int(major) + 1}", f"1.0.0 - {major}.{minor}",
                f"1 || {major}"]:
        got = execute(srv, py("print('ok')", version=rng))
        check(got["version"] == v, f"range {rng!r} picks {v}", got)
        expect_stage(stage(got), "ok\n", "", 0, None, None, None)
    for rng in [f"{int(major) + 1}", f">{v}", f"<{major}", "junk"]:
        piston_error(srv, py("print(1)", version=rng), 400, f"python-{rng} runtime is unknown")
    piston_error(srv, py("print(1)", language="cobol"), 400, "cobol-* runtime is unknown")
    # aliases and Piston's names
    for name, want in [("c++", "c++"), ("cpp", "c++"), ("node", "javascript"),
                       ("python3", "python"), ("gcc", "c"), ("py3", "python"),
                       ("node-js", "javascript")]:
        code = {"c++": "int main(){}", "c": "int main(){}", "javascript": "1"}.get(want, "1")
        got = execute(srv, {"language": name, "version": "*", "files": [{"content": code}]})
        check(got["language"] == want, f"{name} runs as {want}", got)


@case("piston")
def limits(srv):
    """-1 is the server's maximum; values over it are refused with Piston's
    message; run_timeout (wall) and run_cpu_time end a run with TO."""
    got = execute(srv, py("print('max')", run_timeout=-1, run_cpu_time=-1, run_memory_limit=-1,
                          compile_timeout=-1, compile_cpu_time=-1, compile_memory_limit=-1))
    expect_stage(stage(got), "max\n", "", 0, None, None, None)
    piston_error(srv, py("1", run_timeout=60001), 400,
                 "run_timeout cannot exceed the configured limit of 60000")
    piston_error(srv, py("1", run_cpu_time=10001), 400,
                 "run_cpu_time cannot exceed the configured limit of 10000")
    piston_error(srv, py("1", run_memory_limit=1024 ** 3 + 1), 400,
                 "run_memory_limit cannot exceed the configured limit of 1073741824")
    piston_error(srv, py("1", compile_memory_limit=512 * 1024 ** 2 + 1), 400,
                 "compile_memory_limit cannot exceed the configured limit of 536870912")
    piston_error(srv, py("1", run_timeout=-5), 400, "run_timeout must be non-negative")
    piston_error(srv, py("1", run_cpu_time="1"), 400,
                 "If specified, run_cpu_time must be a number")
    # wall clock
    got = execute(srv, py("import time\nprint('a', flush=True)\ntime.sleep(30)", run_timeout=500))
    expect_stage(stage(got), "a\n", "", None, "SIGKILL", "Time limit exceeded", "TO")
    # CPU
    got = execute(srv, py("while True: pass", run_cpu_time=300))
    expect_stage(stage(got), "", "", None, "SIGKILL", "Time limit exceeded", "TO")
    check(stage(got)["cpu_time"] >= 300, "the CPU time it used", stage(got))
    # memory: moat's memory_limit verdict is SG, SIGKILL, "Memory limit exceeded"
    got = execute(srv, py("x = bytearray(400 * 1024 * 1024)\nprint(len(x))",
                          run_memory_limit=64 * 1024 * 1024))
    expect_stage(stage(got), "", "", None, "SIGKILL", "Memory limit exceeded", "SG")


@case("piston")
def statuses(srv):
    """RE with the exit code, SG with the signal's name, OL and EL for an
    output over moat's limit, and the compile stage of compiled languages."""
    got = execute(srv, py("import sys\nprint('out')\nsys.exit(3)"))
    expect_stage(stage(got), "out\n", "", 3, None, "Exited with error status 3", "RE")
    got = execute(srv, py("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"))
    expect_stage(stage(got), "", "", None, "SIGSEGV", "Caught fatal signal 11", "SG")
    got = execute(srv, py("import sys\nwhile True: sys.stdout.write('x' * 4096)"))
    s = stage(got)
    check((s["status"], s["signal"], s["message"], s["code"]) ==
          ("OL", "SIGKILL", "stdout length exceeded", None), "stdout over the limit: OL", s)
    got = execute(srv, py("import sys\nwhile True: sys.stderr.write('x' * 4096)"))
    s = stage(got)
    check((s["status"], s["signal"], s["message"], s["stdout"]) ==
          ("EL", "SIGKILL", "stderr length exceeded", ""), "stderr over the limit: EL", s)

    # compiled: a compile stage, then the run
    got = execute(srv, {"language": "c++", "version": "*",
                        "files": [{"name": "main.cpp", "content":
                                   "#include <cstdio>\nint main(int c, char **v)"
                                   "{ std::printf(\"%s\\n\", v[1]); return 2; }"}],
                        "args": ["arg"]})
    check(list(got) == ["language", "version", "run", "compile"], "run and compile", got)
    expect_stage(stage(got, "compile"), "", "", 0, None, None, None)
    expect_stage(stage(got), "arg\n", "", 2, None, "Exited with error status 2", "RE")
    # a failed compile: the run is a copy of the compile stage
    got = execute(srv, {"language": "c", "version": "*",
                        "files": [{"content": "int main() { error }"}]})
    c = stage(got, "compile")
    check(c["status"] == "RE" and c["code"] == 1 and "error" in c["stderr"]
          and c["stdout"] == "" and c["output"] == c["stderr"], "the compiler's error", c)
    check(got["run"] == c, "run is the compile stage", got)


# Writes to stdout and stderr by turns, each written, flushed and then
# waited for until the pipe is empty (FIONREAD 0: the supervisor has read
# it), so the order moat records is the order of the writes, whatever the
# scheduling.
ALTERNATE = """import fcntl, struct, sys, termios
def drained(fd):
    while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\\0\\0\\0\\0"))[0]:
        pass
for i in range(N):
    sys.stdout.write(f"o{i} "); sys.stdout.flush(); drained(1)
    sys.stderr.write(f"e{i} "); sys.stderr.flush(); drained(2)
"""


@case("piston")
def output_order(srv):
    """output interleaves stdout and stderr in the order they were
    written, for a program that alternates them; stdout and stderr stay
    apart. Read back from the store (GET /v1/jobs/{id}) the job keeps it."""
    for n in (1, 3, 50):
        got = execute(srv, py(ALTERNATE.replace("range(N)", f"range({n})")))
        s = stage(got)
        check(s["stdout"] == "".join(f"o{i} " for i in range(n)) and
              s["stderr"] == "".join(f"e{i} " for i in range(n)), "the streams", s)
        want = "".join(f"o{i} e{i} " for i in range(n))
        check(s["output"] == want, f"{n} alternations: output in the order written",
              (s["output"], want))
        if n == 3:
            # stored with the job, so a job read back from the store keeps it:
            # (stream, bytes) entries, stderr's with the top bit
            jid = srv.stored("SELECT id FROM jobs ORDER BY created_ms DESC LIMIT 1")[0][0]
            blob = srv.stored("SELECT data FROM blobs WHERE key = ?",
                              (f"jobs/{jid}/run-order.bin",))
            check(blob and bytes(blob[0][0]) == struct.pack("<6I", *[3, 0x80000003] * 3),
                  "the order is stored with the job", blob)
    # past 8192 entries (4096 alternations) the order is not recorded: what
    # it does not cover comes after, stdout's rest, then stderr's
    n = 5000
    s = stage(execute(srv, py(ALTERNATE.replace("range(N)", f"range({n})"))))
    want = ("".join(f"o{i} e{i} " for i in range(4096)) +
            "".join(f"o{i} " for i in range(4096, n)) + "".join(f"e{i} " for i in range(4096, n)))
    check(s["output"] == want, "the order's bound: the rest after, stdout first",
          (s["output"][-200:], want[-200:]))
    # compiled: the same for the run of a C program
    prog = ("#include <stdio.h>\n#include <sys/ioctl.h>\n"
            "static void drained(int fd) { int n; do ioctl(fd, FIONREAD, &n); while (n); }\n"
            "int main(void) { for (int i = 0; i < 5; i++) {"
            " printf(\"o%d \", i); fflush(stdout); drained(1);"
            " fprintf(stderr, \"e%d \", i); drained(2); } }\n")
    got = execute(srv, {"language": "c", "version": "*", "files": [{"content": prog}]})
    want = "".join(f"o{i} e{i} " for i in range(5))
    check(stage(got)["output"] == want, "C: output in the order written", got)


@case("piston")
def refusals(srv):
    """Piston's 400s for every invalid input, in its order, and moat's own
    bounds in the same {"message"} form; a refused request runs nothing."""
    before = srv.stored_jobs()
    cases = [
        ({}, "language is required as a string"),
        ({"language": 5}, "language is required as a string"),
        ({"language": "python"}, "version is required as a string"),
        ({"language": "python", "version": "*"}, "files is required as an array"),
        ({"language": "python", "version": "*", "files": "x"}, "files is required as an array"),
        ({"language": "python", "version": "*", "files": [{"name": "a"}]},
         "files[0].content is required as a string"),
        ({"language": "python", "version": "*", "files": []},
         "files must include at least one utf8 encoded file"),
        ({"language": "python", "version": "*",
          "files": [{"content": "AA==", "encoding": "base64"}]},
         "files must include at least one utf8 encoded file"),
        (py("1", files=[{"content": "1"}, {"content": "z", "encoding": "hex"}]),
         "files[1].content is not valid hex"),
        (py("1", files=[{"content": "1"}, {"content": "!", "encoding": "base64"}]),
         "files[1].content is not valid base64"),
        (py("1", files=[{"content": "1"}, {"content": "1", "encoding": "latin1"}]),
         "files[1].encoding must be one of utf8, base64 or hex"),
        # Piston's order: no utf8 file is said before a bad encoding
        (py("1", files=[{"content": "1", "encoding": "latin1"}]),
         "files must include at least one utf8 encoded file"),
        (py("1", files=[{"content": "1"}, {"name": "../../etc/x", "content": "1"}]),
         "files[1].name must be a relative path of [A-Za-z0-9._$-] components, at most 255 bytes"),
        (py("1", files=[{"content": "1"}, {"name": "main.py", "content": "1"}]),
         "file name main.py is given twice"),
        (py("1", stdin=5), "stdin must be a string"),
        (py("1", args=[1]), "args[0] must be a string"),
        (py("1", args="a"), "args must be an array of strings"),
    ]
    for body, message in cases:
        piston_error(srv, body, 400, message)
    r = srv.post("/api/v2/execute", '{"language":', headers={"Content-Type": "application/json"})
    check(r.status == 400 and r.json() == {"message": "invalid JSON at line 1 column 12: "
                                           "unexpected token near end of file"}, "bad JSON", r)
    r = srv.post("/api/v2/execute", json.dumps(py("1")),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(r.status == 415 and r.json() == {"message": "requests must be of type application/json"},
          "415 with Piston's message", r)
    r = srv.get("/api/v2/execute")
    check(r.status == 405 and r.header("allow") == "POST", "GET /api/v2/execute: 405", r)
    check(srv.stored_jobs() == before, "nothing refused was stored",
          (before, srv.stored_jobs()))


@case("piston")
def packages(srv):
    """moat has no packages: the list is empty, installing or removing is
    404 with a message."""
    r = srv.get("/api/v2/packages")
    check(r.status == 200 and r.json() == [], "GET /api/v2/packages: []", r)
    msg = ("moat has no packages to install or remove: its languages are configured on the "
           "server (GET /api/v2/runtimes lists them)")
    for method in ("POST", "DELETE"):
        r = srv.request(method, "/api/v2/packages", body={"language": "python", "version": "3"})
        check(r.status == 404 and r.json() == {"message": msg}, f"{method} /api/v2/packages: 404",
              r)


@case("piston")
def openapi_describes_routes(srv):
    """The served OpenAPI document has the Piston routes."""
    r = srv.get("/openapi.yaml")
    check(r.status == 200, "GET /openapi.yaml", r)
    text = r.body.decode()
    for path in ("/api/v2/execute", "/api/v2/runtimes", "/api/v2/packages"):
        check(re.search(r"^  " + re.escape(path) + r":\s*$", text, re.M), f"{path} described",
              None)


@case("piston_noexec")
def not_finished_in_time(srv):
    """A run not over within server.max_wait_ms: 500 with a message naming
    the job (Piston has no answer for it); the job stays queued, so the
    next one finds the queue full: 429 with Retry-After."""
    r = srv.post("/api/v2/execute", py("print(1)"))
    check(r.status == 500, "not finished within the wait: 500", r)
    m = re.fullmatch(r"job ([0-9a-f-]{36}) did not finish within the server's maximum wait of "
                     r"300 ms; GET /v1/jobs/\1 has it when it does", r.json().get("message", ""))
    check(m and set(r.json()) == {"message"}, "the message names the job", r.json())
    check(srv.get(f"/v1/jobs/{m.group(1)}").json()["status"] == "queued", "the job is queued",
          None)
    r = srv.post("/api/v2/execute", py("print(2)"))
    check(r.status == 429 and r.header("retry-after") == "1" and
          r.json() == {"message": "the queue holds its maximum of 1 jobs; try again later"},
          "a full queue: 429", r)


@case("piston_nowait")
def no_waiting(srv):
    """A server that does not wait for jobs cannot answer Piston's execute."""
    r = srv.post("/api/v2/execute", py("print(1)"))
    check(r.status == 503 and r.json() == {
        "message": "this server does not wait for jobs (server.max_wait_ms is 0), and "
                   "/api/v2/execute answers with the finished run"}, "503 with a message", r)
    check(srv.stored_jobs() == 0, "nothing stored", srv.stored_jobs())


# ---- piston-client ----

CLIENT_SCRIPT = r"""
import piston from "piston-client";
const client = piston({ server: process.argv[2] });
const out = {};
out.runtimes = await client.runtimes();
out.plain = await client.execute("python", "import sys\nprint('hi', sys.argv[1:])");
out.config = await client.execute("python", "import sys\nprint(input(), sys.argv[1:])",
    { stdin: "from stdin", args: ["x"], runTimeout: 2000, compileTimeout: 5000,
      runMemoryLimit: 64000000, compileMemoryLimit: -1 });
out.object = await client.execute({ language: "python", version: "3",
    files: [{ name: "main.py", content: "import lib\nprint(lib.V)" },
            { name: "lib.py", content: "V = 'from lib'" }] });
out.language_and_object = await client.execute("c++",
    { files: [{ content: "#include <cstdio>\nint main(){ std::puts(\"cpp\"); }" }], args: [] });
out.unknown = await client.execute("python", "print(1)", { version: "1.0.0" });
out.no_runtime = await client.execute("cobol", "DISPLAY 'X'");
console.log(JSON.stringify(out));
"""


def npm_install(workdir, cache):
    """piston-client from the npm registry; failing loudly when it cannot."""
    npm = shutil.which("npm")
    check(npm, "npm is installed (scripts/deps.sh)")
    p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save",
                        "--cache", cache, "--prefix", workdir, PISTON_CLIENT],
                       capture_output=True, timeout=240, stdin=subprocess.DEVNULL)
    check(p.returncode == 0, f"npm install {PISTON_CLIENT} (the npm registry must be reachable)",
          (p.returncode, p.stderr.decode(errors="replace")[-1500:]))


@case("piston")
def piston_client(srv):
    """The npm package piston-client, unchanged, against moat: runtimes()
    and execute() in each of its argument forms, exact results."""
    build = os.path.dirname(os.path.abspath(G.moat))
    cache = os.path.join(build, "npm-cache")
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="moat-e2e-piston-client-")
    try:
        npm_install(work, cache)
        script = os.path.join(work, "client.mjs")
        with open(script, "w") as f:
            f.write(CLIENT_SCRIPT)
        p = subprocess.run(["node", script, f"http://{srv.hostport}"], capture_output=True,
                           timeout=240, cwd=work, stdin=subprocess.DEVNULL)
        check(p.returncode == 0, "the client script ran",
              (p.returncode, p.stderr.decode(errors="replace")[-1500:]))
        got = json.loads(p.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    check(got["runtimes"] == srv.get("/api/v2/runtimes").json(), "runtimes(): the list", got)
    pyv = next(x["version"] for x in got["runtimes"] if x["language"] == "python")
    cppv = next(x["version"] for x in got["runtimes"] if x["language"] == "c++")

    def ran(name, language, version, stdout, compiled=False):
        r = got[name]
        check(r["language"] == language and r["version"] == version, f"{name}: the runtime", r)
        check(set(r) == ({"language", "version", "run", "compile"} if compiled else
                         {"language", "version", "run"}), f"{name}: the stages", r)
        expect_stage(stage(r), stdout, "", 0, None, None, None)

    # the client's default args are ["1", "2", "3"]
    ran("plain", "python", pyv, "hi ['1', '2', '3']\n")
    ran("config", "python", pyv, "from stdin ['x']\n")
    ran("object", "python", pyv, "from lib\n")
    ran("language_and_object", "c++", cppv, "cpp\n", compiled=True)
    check(got["unknown"] == {"message": "python-1.0.0 runtime is unknown"},
          "an unknown version: Piston's 400", got["unknown"])
    # no runtime of that name: the client sends no version
    check(got["no_runtime"] == {"message": "version is required as a string"},
          "an unknown language: Piston's 400", got["no_runtime"])


if __name__ == "__main__":
    run(G)
