#!/usr/bin/env python3
"""End-to-end tests of `moat run`: one ctest test per case (run_test.py --case NAME).

Each case runs the moat binary given with --moat (the ASan+UBSan build in
`make test`) on real programs and checks its exit code and output exactly.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from e2e_util import Failure, box_groups, check, uid_procs, write

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def moat(args, stdin=None, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([MOAT] + args, input=stdin, capture_output=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def run_json(args, stdin=None, rc=None):
    code, out, err = moat(["run", "--json"] + args, stdin=stdin)
    try:
        res = json.loads(out)
    except ValueError:
        raise Failure(f"not one JSON object on stdout (rc {code})\n  stdout: {out!r}\n  stderr: {err!r}")
    if rc is not None:
        check(code == rc, f"moat run exit code {rc} expected", (code, err.decode(errors='replace')))
    return res


HELLO = {
    "c": "hello.c", "cpp": "hello.cpp", "python": "hello.py", "javascript": "hello.js",
    "java": "Hello.java", "go": "hello.go", "rust": "hello.rs", "bash": "hello.sh",
    "ruby": "hello.rb", "php": "hello.php", "perl": "hello.pl", "lua": "hello.lua",
}
COMPILED = {"c", "cpp", "java", "go", "rust"}


def hello_case(lang):
    def fn():
        path = os.path.join(PROGRAMS, HELLO[lang])
        res = run_json(["--stdin", "-", path], stdin=b"21\n", rc=0)
        check(res["verdict"] == "ok", f"{lang}: verdict ok", res)
        check(res["stdout"] == "hello 42\n", f"{lang}: reads stdin and prints", res["stdout"])
        check(("compile" in res) == (lang in COMPILED), f"{lang}: compile member iff compiled", res)
        if lang in COMPILED:
            check(res["compile"]["verdict"] == "ok" and res["compile"]["cached"] is False,
                  f"{lang}: compile step ok", res["compile"])
        for k, t in (("exitCode", int), ("timeMs", int), ("wallTimeMs", int), ("memoryKb", int),
                     ("stdoutTruncated", bool), ("stderrTruncated", bool)):
            check(isinstance(res[k], t), f"{lang}: {k} is {t.__name__}", res[k])
        check(res["signal"] is None and res["error"] is None, f"{lang}: no signal, no error", res)
    fn.__name__ = f"hello_{lang}"
    return fn


for _lang in HELLO:
    case(hello_case(_lang))


@case
def plain_mode_passes_output_and_exit_code():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "x.py", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)\n")
        code, out, err = moat(["run", p])
        check(code == 3, "exit code of the program", code)
        check(out == b"out\n", "stdout passes through", out)
        check(err.startswith(b"err\n") and b"verdict=runtime_error" in err,
              "stderr passes through, then the summary", err)


@case
def time_limit_exit_124():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "spin.c", "int main(void){for(;;);}\n")
        code, out, err = moat(["run", "--time-limit", "300", p])
        check(code == 124, "exit code 124 on time limit", (code, err))
        res = run_json(["--time-limit", "300", p], rc=124)
        check(res["verdict"] == "time_limit" and res["exitCode"] == 124, "time_limit", res)
        check(res["timeMs"] >= 300, "CPU time at least the limit", res["timeMs"])
        check(res["error"] == "Time Limit Exceeded (program ran too long)", "sentence", res["error"])


@case
def compile_error_has_message():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "bad.c", "int main(void){ return undefined_name; }\n")
        res = run_json([p], rc=1)
        check(res["verdict"] == "compile_error", "compile_error", res)
        check("undefined_name" in res["compile"]["stderr"], "compiler message in compile.stderr",
              res["compile"])
        check(res["compile"]["verdict"] == "runtime_error", "compile step failed", res["compile"])


@case
def signal_by_name():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "segv.c", "int main(void){ volatile int *p = 0; return *p; }\n")
        res = run_json([p], rc=139)
        check(res["verdict"] == "runtime_error" and res["signal"] == "SIGSEGV"
              and res["exitCode"] == 139, "SIGSEGV, 128+11", res)


@case
def non_utf8_output_is_valid_json():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "bin.py", "import sys\nsys.stdout.buffer.write(b'a\\xff\\xfeb\\x00c\\xc3\\xa9')\n")
        res = run_json([p], rc=0)
        check(res["stdout"] == "a\ufffd\ufffdb\x00c\u00e9", "invalid bytes become U+FFFD", res["stdout"])


@case
def output_limit_truncates():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "flood.py", "import sys\nwhile True: sys.stdout.write('x' * 4096)\n")
        res = run_json(["--max-output", "8", p])
        check(res["verdict"] == "output_limit", "output_limit", res["verdict"])
        check(len(res["stdout"]) == 8192 and res["stdoutTruncated"], "exactly 8 KB kept", len(res["stdout"]))


@case
def memory_limit_flag():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "eat.py", "a = []\nwhile True: a.append(bytearray(1 << 20))\n")
        res = run_json(["--memory-limit", "48", p])
        check(res["verdict"] == "memory_limit", "memory_limit", res)
        check(40 * 1024 <= res["memoryKb"] <= 49 * 1024, "peak near the limit", res["memoryKb"])


@case
def arguments_after_double_dash():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "args.py", "import sys\nprint(sys.argv[1:])\n")
        res = run_json([p, "--", "a b", "--json", "$(id)"], rc=0)
        check(res["stdout"] == "['a b', '--json', '$(id)']\n", "argv passed literally", res["stdout"])


@case
def several_files_first_is_entry():
    with tempfile.TemporaryDirectory() as tmp:
        main = write(tmp, "main.py", "import helper\nprint(helper.f())\n")
        helper = write(tmp, "helper.py", "def f():\n    return 'from helper'\n")
        res = run_json([main, helper], rc=0)
        check(res["stdout"] == "from helper\n", "second file beside the first", res)


@case
def lang_flag_overrides_extension():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "prog.txt", "print(6 * 7)\n")
        res = run_json(["--lang", "py", p], rc=0)
        check(res["stdout"] == "42\n", "alias py", res)


@case
def bad_arguments_exit_2_and_run_nothing():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "x.py", "open('/tmp/ran', 'w')\n")
        for args, needle in ((["--lang", "cobol", p], b"unknown language"),
                             ([os.path.join(tmp, "missing.py")], b"missing.py"),
                             (["--time-limit", "999999", p], b"time"),
                             (["--memory-limit", "0", p], b"memory"),
                             (["--time-limit", "abc", p], b"invalid"),
                             (["--no-such-flag", p], b"unknown option"),
                             ([os.path.join(tmp, "x.unknownext")], b"language"),
                             ([], b"no program")):
            code, out, err = moat(["run"] + args)
            check(code == 2, f"exit 2 for {args}", (code, err))
            check(needle in err.lower() or needle in err, f"message names the problem for {args}", err)
            check(out == b"", f"nothing on stdout for {args}", out)


@case
def environment_does_not_leak():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "env.py", "import os\nprint(sorted(os.environ))\n")
        code, out, err = moat(["run", "--json", p], env={"MOAT_E2E_SECRET": "s3cret"})
        res = json.loads(out)
        check("MOAT_E2E_SECRET" not in res["stdout"] and "s3cret" not in res["stdout"],
              "moat's environment stays out", res["stdout"])
        check("'PATH'" in res["stdout"] and "'HOME'" in res["stdout"], "base environment", res["stdout"])


@case
def config_file_and_env_set_defaults():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        ini = write(tmp, "moat.ini", "[limits]\ntime_ms = 200\n")
        os.chmod(ini, 0o644)
        p = write(tmp, "spin.c", "int main(void){for(;;);}\n")
        res = run_json(["--config", ini, p], rc=124)
        check(res["timeMs"] < 1500, "ini time limit applied", res["timeMs"])
        code, out, _ = moat(["run", "--json", p], env={"MOAT_TIME_LIMIT": "250"})
        check(code == 124 and json.loads(out)["timeMs"] < 1500, "env time limit applied", out)


@case
def doctor_and_languages():
    code, out, err = moat(["doctor"])
    check(code == 0 and b"moat can run programs here" in out, "doctor passes here", out + err)
    code, out, err = moat(["languages"])
    check(code == 0, "languages exits 0", err)
    for name in HELLO:
        check(name.encode() in out, f"{name} listed", out)
    check(b"3.11" in out, "python version probed", out)


@case
def nothing_left_behind():
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "daemon.py", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')\n")
        # A uid range of its own: other tests run boxes in the default range
        # at the same time.
        first = 3930000  # no other test uses 3930000..3930007
        res = run_json(["--cgroup-name", "moat-e2e-left", "--first-uid", str(first),
                        "--uid-count", "8", p], rc=0)
        check(res["stdout"] == "parent done\n", "parent finished", res)
        groups = box_groups("moat-e2e-left")
        check(not groups, "no box cgroup left", groups)
        left = uid_procs(first, 8)
        check(not left, "no process of a box uid left", left)


def main():
    global MOAT
    ap = argparse.ArgumentParser()
    ap.add_argument("--moat", required=True)
    ap.add_argument("--case")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    MOAT = a.moat
    if a.list:
        print("\n".join(CASES))
        return 0
    names = [a.case] if a.case else list(CASES)
    failed = 0
    for n in names:
        try:
            CASES[n]()
            print(f"ok {n}")
        except Failure as e:
            failed += 1
            print(f"FAIL {n}: {e}")
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
