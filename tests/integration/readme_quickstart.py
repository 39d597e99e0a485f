#!/usr/bin/env python3
"""netns.readme_quickstart: the README's quick start, run as written.

    readme_quickstart.py README.md WORKDIR

Reads the section between '<!-- quickstart -->' and '<!-- /quickstart -->'
of the README.  In its ```console blocks a line '$ CMD' (continued by a
trailing backslash) is a command, and the lines after it, up to the next
command or the end of the block, are what it prints (stdout and stderr
together); a line '...' there stands for any number of lines.  ```yaml or
```json blocks that follow a line naming a file in backquotes, e.g.
"`examples/minimal.yaml`:", must equal that file.  Each command runs with
bash in WORKDIR, in order, and must exit 0 (the README shows an expected
non-zero status with '; echo "exit status $?"'); log lines' timestamps
(ts=...) may differ.  Prints what differs and exits 1 at the first
difference.
"""
import os
import re
import subprocess
import sys


def blocks(text):
    m = re.search(r"<!-- quickstart -->(.*?)<!-- /quickstart -->", text, re.S)
    if not m:
        sys.exit("readme_quickstart: README has no <!-- quickstart --> section")
    section = m.group(1)
    for b in re.finditer(r"(?:`([^`\n]+)`:\s*\n\s*\n)?```(\w+)\n(.*?)```", section, re.S):
        yield b.group(1), b.group(2), b.group(3)


def commands(body):
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            i += 1
            continue
        cmd = line[2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd[:-1] + " " + lines[i].strip()
        i += 1
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        while out and not out[-1].strip():
            out.pop()
        yield cmd, out


TS = re.compile(r"ts=[0-9T:Z-]+")


def same(a, b):
    """Lines equal but for trailing blanks and log lines' timestamps."""
    return TS.sub("ts=*", a.rstrip()) == TS.sub("ts=*", b.rstrip())


def matches(want, got):
    """want may hold '...' lines, each standing for any number of lines."""
    if not want:
        return not got
    if want[0] == "...":
        return any(matches(want[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and same(want[0], got[0]) and matches(want[1:], got[1:])


def main():
    readme, work = sys.argv[1], sys.argv[2]
    n = 0
    for fname, lang, body in blocks(open(readme).read()):
        if fname and lang in ("yaml", "json"):
            path = os.path.join(work, fname)
            if open(path).read().strip() != body.strip():
                print(f"FAIL: README shows {fname}, which differs from the file")
                return 1
            print(f"ok: {fname} as shown")
            continue
        if lang != "console":
            continue
        for cmd, want in commands(body):
            n += 1
            p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=work,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            got = p.stdout.splitlines()
            print(f"$ {cmd}")
            print(p.stdout, end="")
            if p.returncode != 0:
                print(f"FAIL: exit status {p.returncode}")
                return 1
            if not matches(want, got):
                print("FAIL: the README shows:")
                print("\n".join(want))
                return 1
    if n == 0:
        print("FAIL: no commands in the quick start")
        return 1
    print(f"readme_quickstart: {n} commands ran as the README shows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
