# moat's source policy check for C and C++, run inside a box before the
# compile step (python3 -I -S .moat-check .moat-rules c|c++ < sources). The
# sources are written to a scratch directory and each is run through the
# preprocessor (cpp); its line markers say which header each #include of a
# source file opened. Exits 3 with "FILE:LINE<TAB>RULE<TAB>message" on the first
# forbidden one, 0 when there is none. A file the preprocessor refuses
# passes: the compile step reports the error.
#
# Rules (comma-separated):
#   forbid_includes    headers by the name written in #include <...>, e.g.
#                      sys/socket.h (matched against the end of the path)
import os
import re
import subprocess
import sys
import tempfile

MARKER = re.compile(rb'^# (\d+) "((?:[^"\\]|\\.)*)"((?: \d)*)$')


def rules(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                out[key] = [w.strip() for w in value.split(",") if w.strip()]
    return out


def sources(data):
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        name = data[pos:nl].decode("utf-8", "replace")
        nl2 = data.index(b"\n", nl + 1)
        n = int(data[nl + 1:nl2])
        yield name, data[nl2 + 1:nl2 + 1 + n]
        pos = nl2 + 1 + n


def opened(out, own):
    """(line in a source file, header path) of every header a source file
    opens directly, from cpp's line markers."""
    where = {}  # file -> its current line
    stack = []
    for raw in out.split(b"\n"):
        m = MARKER.match(raw)
        if not m:
            if stack:
                where[stack[-1]] = where.get(stack[-1], 0) + 1
            continue
        line, path, flags = int(m.group(1)), m.group(2).decode("utf-8", "replace"), m.group(3)
        if b"1" in flags.split():
            parent = stack[-1] if stack else None
            if parent in own:  # the directive's own line is not in the output
                yield parent, where.get(parent, 0) + 1, path
            stack.append(path)
        elif b"2" in flags.split():
            while stack and stack[-1] != path:
                stack.pop()
        elif stack:
            stack[-1] = path  # the same level, another name (<built-in>)
        else:
            stack.append(path)
        where[path] = line - 1


def main():
    r = rules(sys.argv[1])
    lang = sys.argv[2] if len(sys.argv) > 2 else "c"
    banned = r.get("forbid_includes", [])
    if not banned:
        return 0
    files = list(sources(sys.stdin.buffer.read()))
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files:
            with open(os.path.join(tmp, os.path.basename(name)), "wb") as f:
                f.write(text)
        own = {os.path.join(tmp, os.path.basename(n)) for n, _ in files}
        for name, _ in files:
            if not re.search(r"\.(c|cc|cpp|cxx|h|hpp)$", name):
                continue
            path = os.path.join(tmp, os.path.basename(name))
            p = subprocess.run(["/usr/bin/cpp", "-x", lang, "-I", tmp, path],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if p.returncode != 0:
                continue
            for src, line, header in opened(p.stdout, own):
                for b in banned:
                    if header == b or header.endswith("/" + b):
                        print(f"{os.path.basename(src)}:{line}\tforbid_includes\t"
                              f"#include of {b}")
                        return 3
    return 0


sys.exit(main())
