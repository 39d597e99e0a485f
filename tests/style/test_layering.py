#!/usr/bin/env python3
"""style.layering_rules: scripts/check-layering.py on small trees of its own,
one per rule, each checked to pass when clean and to fail, naming the file,
when the rule is broken.

    test_layering.py SOURCE_DIR [CC]

With CC, the object-file rules (call cycles, CLI-only calls) are checked
too, on objects compiled into a build tree laid out as CMake lays it out.
"""
import os
import shutil
import subprocess
import sys
import tempfile

TOP = sys.argv[1]
CC = sys.argv[2] if len(sys.argv) > 2 else None
CHECK = os.path.join(TOP, "scripts", "check-layering.py")

LIBS = {"lib": ("bh_util", ["util.c"]),
        "enforcer": ("bh_model", ["model.c"]),
        "learner": ("bh_learner", ["learn.c"]),
        "agent": ("bh_agent", ["cli_put.c", "agent_loop.c", "kube_write.c",
                               "kube_write_wait.c"])}

FILES = {
    "include/util.h": "int util_one(void);\n",
    "include/model.h": '#include "util.h"\nint model_one(void);\n',
    "include/learn.h": '#include "model.h"\nint learn_one(void);\n',
    "include/kube_write.h": "int kube_write_start(void);\n",
    "include/kube_write_wait.h": '#include "kube_write.h"\nint kube_write_wait_create(void);\n',
    "lib/util.c": '#include "util.h"\nint util_one(void) { return 1; }\n',
    "enforcer/model.c": '#include "model.h"\nint model_one(void) { return util_one(); }\n',
    "learner/learn.c": '#include "learn.h"\nint learn_one(void) { return model_one(); }\n',
    "agent/kube_write.c": '#include "kube_write.h"\nint kube_write_start(void) { return 0; }\n',
    "agent/kube_write_wait.c": '#include "kube_write_wait.h"\n'
                               "int kube_write_wait_create(void) { return kube_write_start(); }\n",
    "agent/cli_put.c": '#include "kube_write_wait.h"\n'
                       "int cli_put(void);\nint cli_put(void) { return kube_write_wait_create(); }\n",
    "agent/agent_loop.c": '#include "kube_write.h"\n#include "learn.h"\n'
                          "int agent_loop(void);\n"
                          "int agent_loop(void) { return kube_write_start() + learn_one(); }\n",
    "scripts/layering-allow.txt": "# none\n",
}


def tree(changes):
    d = tempfile.mkdtemp(prefix="bh-layering-")
    files = dict(FILES)
    files.update(changes)
    for part, (lib, srcs) in LIBS.items():
        files[part + "/CMakeLists.txt"] = "add_library(%s STATIC\n  %s\n)\n" % (lib, "\n  ".join(srcs))
    for path, text in files.items():
        os.makedirs(os.path.join(d, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(d, path), "w") as f:
            f.write(text)
    shutil.copy(CHECK, os.path.join(d, "scripts", "check-layering.py"))
    return d


def build(d):
    b = os.path.join(d, "build")
    for part, (lib, srcs) in LIBS.items():
        out = os.path.join(b, part, "CMakeFiles", lib + ".dir")
        os.makedirs(out, exist_ok=True)
        for src in srcs:
            subprocess.run([CC, "-c", "-I", os.path.join(d, "include"), os.path.join(d, part, src),
                            "-o", os.path.join(out, src + ".o")], check=True)
    return b


failures = []


def case(name, changes, want_rc, want_text=None, objects=False):
    d = tree(changes)
    try:
        args = [sys.executable, os.path.join(d, "scripts", "check-layering.py"), d]
        if objects:
            args.append(build(d))
        p = subprocess.run(args, capture_output=True, text=True)
        out = p.stdout + p.stderr
        ok = p.returncode == want_rc and (want_text is None or want_text in out)
        print("%s %s" % ("ok  " if ok else "FAIL", name))
        if not ok:
            failures.append(name)
            print("  exit %d, wanted %d%s; output:\n%s" % (
                p.returncode, want_rc, " with '%s'" % want_text if want_text else "", out))
    finally:
        shutil.rmtree(d)


# The clean tree passes.
case("clean tree", {}, 0)
# 1. includes point down.
case("include up", {"lib/util.c": '#include "model.h"\nint util_one(void) { return 1; }\n'}, 1,
     "lib/util.c (bh_util) includes model.h")
# 3. size.
case("file too long", {"learner/learn.c": FILES["learner/learn.c"] + "\n" * 1001}, 1,
     "learner/learn.c: 1003 lines")
# 4. CLI-only headers: the daemon may not include them, directly or through a header.
case("daemon includes kube_write_wait.h",
     {"agent/agent_loop.c": '#include "kube_write_wait.h"\n' + FILES["agent/agent_loop.c"]}, 1,
     "agent/agent_loop.c includes kube_write_wait.h: blocking writes are for agent/cli_*.c only")
case("header hands kube_write_wait.h on",
     {"include/learn.h": '#include "kube_write_wait.h"\n' + FILES["include/learn.h"]}, 1,
     "include/learn.h includes kube_write_wait.h")
case("allowed exception",
     {"agent/agent_loop.c": '#include "kube_write_wait.h"\n' + FILES["agent/agent_loop.c"],
      "scripts/layering-allow.txt":
          "cli-only agent/agent_loop.c kube_write_wait.h  # a reason\n"}, 0)
if CC:
    case("clean objects", {}, 0, objects=True)
    # 4. ... nor call them through a prototype of its own.
    case("daemon calls kube_write_wait_create",
         {"agent/agent_loop.c": "int kube_write_wait_create(void);\nint agent_loop(void);\n"
                                "int agent_loop(void) { return kube_write_wait_create(); }\n"}, 1,
         "agent/agent_loop.c calls kube_write_wait_create (agent/kube_write_wait.c)", objects=True)
    # 2. no call cycle within a library.
    case("call cycle",
         {"agent/kube_write.c": "int agent_loop(void);\nint kube_write_start(void);\n"
                                "int kube_write_start(void) { return agent_loop(); }\n"}, 1,
         "bh_agent: files call each other in a circle: agent/agent_loop.c agent/kube_write.c",
         objects=True)
sys.exit(1 if failures else 0)
