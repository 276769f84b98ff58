# moat's source policy check for Python, run inside a box before the program
# (python3 -I -S .moat-check .moat-rules < sources). It parses each .py file
# with the language's own parser and exits 3 with "FILE:LINE<TAB>RULE<TAB>
# message" on the first thing the policy forbids, 0 when it finds none. A file that
# does not parse passes: the run reports the syntax error.
#
# Rules (comma-separated names):
#   forbid_imports     modules, with their submodules (os forbids os.path)
#   forbid_calls       functions called by name or as an attribute
#   forbid_attributes  attributes read anywhere (__subclasses__, __globals__)
import ast
import sys


def rules(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                out[key] = {w.strip() for w in value.split(",") if w.strip()}
    return out


def sources(data):
    """name NL length NL bytes, repeated."""
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        name = data[pos:nl].decode("utf-8", "replace")
        nl2 = data.index(b"\n", nl + 1)
        n = int(data[nl + 1:nl2])
        yield name, data[nl2 + 1:nl2 + 1 + n]
        pos = nl2 + 1 + n


def forbidden_module(name, banned):
    parts = name.split(".")
    return next((".".join(parts[:i]) for i in range(1, len(parts) + 1)
                 if ".".join(parts[:i]) in banned), None)


def check(tree, r):
    imports = r.get("forbid_imports", set())
    calls = r.get("forbid_calls", set())
    attrs = r.get("forbid_attributes", set())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                m = forbidden_module(a.name, imports)
                if m:
                    return node.lineno, "forbid_imports", f"import of {a.name}: {m} is forbidden"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            m = forbidden_module(node.module, imports)
            if m:
                return node.lineno, "forbid_imports", f"import from {node.module}: {m} is forbidden"
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in calls:
                return node.lineno, "forbid_calls", f"call of {name}"
        elif isinstance(node, ast.Attribute) and node.attr in attrs:
            return node.lineno, "forbid_attributes", f"use of the attribute {node.attr}"
        elif isinstance(node, ast.Name) and node.id in attrs:
            return node.lineno, "forbid_attributes", f"use of {node.id}"
    return None


def main():
    r = rules(sys.argv[1])
    for name, text in sources(sys.stdin.buffer.read()):
        if not name.endswith(".py"):
            continue
        try:
            tree = ast.parse(text, filename=name)
        except SyntaxError:
            continue  # it cannot run either: the run says why
        except (RecursionError, MemoryError):
            print(f"{name}:1\tcomplexity\ttoo deeply nested to check")
            return 3
        try:
            found = check(tree, r)
        except RecursionError:
            print(f"{name}:1\tcomplexity\ttoo deeply nested to check")
            return 3
        if found:
            line, rule, msg = found
            print(f"{name}:{line}\t{rule}\t{msg}")
            return 3
    return 0


sys.exit(main())
