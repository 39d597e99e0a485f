#!/usr/bin/env python3
"""style.layering: the parts depend on each other one way, and files stay cut
by idea.

    check-layering.py SOURCE_DIR [BUILD_DIR]

1. Includes point down the layering: lib (bh_util) <- model (bh_model) <-
   enforcer, learner (siblings: neither includes the other's headers) <-
   agent.  A header in include/ belongs to the library whose directory holds
   the .c file of the same name; a header with no .c of its own belongs to
   the highest layer of what it includes.
2. No cycle among the object files of one library: with BUILD_DIR, `nm`
   says which file calls which (a defined symbol of one file that is an
   undefined symbol of another), and the call graph of each library must
   have no cycle of two or more files.
3. No source file over MAX_LINES lines.
4. Blocking Kubernetes writes are for the CLI only: the agent's loop must
   never wait on the network.  Only the CLI's command files (agent/cli_*.c)
   and the file defining them may include a CLI_ONLY header (never another
   header, which would hand it on), and with BUILD_DIR no other object file
   may call a function the CLI_ONLY file defines (a prototype written by
   hand does not get round the rule).

tests/style/test_layering.py runs each rule on a small tree of its own.

Exceptions live in scripts/layering-allow.txt, one per line with its reason
after '#'; an exception that no longer applies is an error too, so the list
only shrinks.
"""
import os
import re
import subprocess
import sys

MAX_LINES = 1000
LAYER = {"bh_util": 0, "bh_model": 1, "bh_enforcer": 2, "bh_learner": 2, "bh_agent": 3}
PARTS = ["lib", "enforcer", "learner", "agent"]
# header -> the file defining its functions; see rule 4.
CLI_ONLY = {"kube_write_wait.h": "agent/kube_write_wait.c"}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def libraries(top):
    """file (relative path) -> library, from each part's add_library()."""
    owner = {}
    for part in PARTS:
        text = open(os.path.join(top, part, "CMakeLists.txt")).read()
        for m in re.finditer(r"add_library\((\w+)\s+STATIC(.*?)\)", text, re.S):
            lib = m.group(1)
            for line in m.group(2).splitlines():
                line = line.split("#")[0].strip()
                for word in line.split():
                    if word.endswith(".c"):
                        owner[os.path.join(part, word)] = lib
    return owner


def main():
    top = sys.argv[1]
    build = sys.argv[2] if len(sys.argv) > 2 else None
    allow_path = os.path.join(top, "scripts", "layering-allow.txt")
    allow = {}
    for line in open(allow_path):
        rule = line.split("#")[0].strip()
        if rule:
            allow[rule] = False
    errors = []

    def fail(rule, msg):
        if rule in allow:
            allow[rule] = True
        else:
            errors.append(msg)

    owner = libraries(top)
    # Header -> library: the library of the same-named .c file.
    hdr_lib = {}
    for f, lib in owner.items():
        hdr_lib[os.path.basename(f)[:-2] + ".h"] = lib
    sources = {}
    for part in PARTS:
        for name in sorted(os.listdir(os.path.join(top, part))):
            if name.endswith((".c", ".h")):
                sources[os.path.join(part, name)] = open(os.path.join(top, part, name)).read()
    headers = {n: open(os.path.join(top, "include", n)).read()
               for n in os.listdir(os.path.join(top, "include")) if n.endswith(".h")}

    def header_layer(name, seen=()):
        if name in hdr_lib:
            return LAYER[hdr_lib[name]]
        if name not in headers or name in seen:
            return 0
        deps = [header_layer(d, seen + (name,)) for d in INC.findall(headers[name])]
        return max(deps, default=0)

    # 1. includes
    for f, text in sources.items():
        lib = owner.get(f)
        if lib is None and f.endswith(".h"):
            # a part's private header: the library of its directory's files
            libs = {owner[g] for g in owner if g.startswith(os.path.dirname(f) + "/")}
            lib = max(libs, key=lambda x: LAYER[x]) if libs else None
        if lib is None:
            lib = "bh_agent"  # main.c and the like
        for inc in INC.findall(text):
            if inc not in headers:
                continue
            il = hdr_lib.get(inc)
            layer = header_layer(inc)
            if layer > LAYER[lib] or (il and il != lib and LAYER[il] == LAYER[lib]):
                fail(f"include {f} {inc}",
                     f"{f} ({lib}) includes {inc} ({il or 'layer %d' % layer}): "
                     "that points up (or sideways) the layering")

    def cli_file(f):
        return os.path.dirname(f) == "agent" and os.path.basename(f).startswith("cli_") \
            and f.endswith(".c")

    # 4. CLI-only headers
    for f, text in list(sources.items()) + [("include/" + n, t) for n, t in headers.items()]:
        for inc in INC.findall(text):
            if inc in CLI_ONLY and not cli_file(f) and f != CLI_ONLY[inc] \
                    and f != "include/" + inc:
                fail(f"cli-only {f} {inc}",
                     f"{f} includes {inc}: blocking writes are for agent/cli_*.c only")

    # 2. call cycles within a library
    if build:
        defined, undefined = {}, {}
        for f, lib in owner.items():
            obj = os.path.join(build, os.path.dirname(f), "CMakeFiles", lib + ".dir",
                               os.path.basename(f) + ".o")
            if not os.path.exists(obj):
                errors.append(f"{obj}: missing (build first)")
                continue
            out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True,
                                 check=True).stdout
            d, u = set(), set()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "U":
                    u.add(parts[1])
                elif len(parts) == 3 and parts[1] in "TDBRC":
                    d.add(parts[2])
            defined[f], undefined[f] = d, u
        # 4. nobody but the CLI calls a CLI-only file's functions
        for impl in CLI_ONLY.values():
            for f in sorted(defined):
                if f == impl or cli_file(f) or impl not in defined:
                    continue
                called = sorted(undefined[f] & defined[impl])
                if called:
                    fail(f"cli-only {f} {impl}",
                         f"{f} calls {', '.join(called)} ({impl}): blocking writes are "
                         "for agent/cli_*.c only")
        for lib in sorted(set(owner.values())):
            files = [f for f in owner if owner[f] == lib and f in defined]
            edges = {f: {g for g in files if g != f and undefined[f] & defined[g]}
                     for f in files}
            for scc in sccs(files, edges):
                if len(scc) > 1:
                    cyc = " ".join(sorted(scc))
                    fail(f"cycle {cyc}", f"{lib}: files call each other in a circle: {cyc}")

    # 3. size
    for f, text in sources.items():
        n = text.count("\n")
        if n > MAX_LINES:
            fail(f"size {f}", f"{f}: {n} lines (at most {MAX_LINES}: cut it by idea)")

    for rule, used in allow.items():
        if not used:
            errors.append(f"scripts/layering-allow.txt: '{rule}' no longer applies: remove it")
    for e in errors:
        print("style.layering:", e)
    if not errors:
        print(f"style.layering: {len(sources)} files, {len(allow)} allowed exceptions")
    return 1 if errors else 0


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in nodes:
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
