#!/usr/bin/env python3
"""Checks silo's include graph: every #include "..." under src/ points down.

The layers (docs/architecture.md explains what each folder owns) are listed
bottom to top in LAYERS. A file may include headers of its own module and of
modules on a lower layer; never a module on its own layer or above. The check
also looks for include circles between files (a header that reaches itself),
which guards alone would hide.

Usage: layers.py [SRC_DIR]   (default: src next to this script's parent)
Prints one line per offending edge or circle and "layers: ok" when there is
none; exits 1 when something is wrong.
"""
import os
import re
import sys

# Bottom to top. A module is a folder under src/ or a named file at the top.
LAYERS = [
    ["util"],
    ["config", "aws", "db", "http"],
    ["store"],
    ["media", "jobs", "auth"],
    ["asr"],
    ["app"],
    ["objects"],
    ["recordings", "videos"],
    ["transcribe"],
    ["s3", "api"],
    ["main"],
]

# Files at the top of src/ and the module they belong to.
TOP_FILES = {
    "config": "config",
    "instance": "config",
    "app": "app",
    "help": "main",
    "main": "main",
}

# Generated headers (build/gen) belong to no layer and may be included by
# the module that embeds them.
GENERATED = {"web_assets.h": {"api"}, "version_gen.h": {"util"}}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(rel):
    """The module of a path relative to src/ ("store/fs.c" -> "store")."""
    parts = rel.split("/")
    if len(parts) == 1:
        stem = os.path.splitext(parts[0])[0]
        return TOP_FILES.get(stem)
    return parts[0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "src")
    src = os.path.normpath(src)
    level = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    problems = []
    graph = {}

    for root, _dirs, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            mod = module_of(rel)
            if mod not in level:
                problems.append(f"{rel}: module '{mod}' is not in the layer table")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            edges = graph.setdefault(rel, [])
            for target in INCLUDE.findall(text):
                if target in GENERATED:
                    if mod not in GENERATED[target]:
                        problems.append(f"{rel}: includes generated {target}")
                    continue
                if not os.path.exists(os.path.join(src, target)):
                    problems.append(f"{rel}: includes {target}, which is not under src/")
                    continue
                edges.append(target)
                tmod = module_of(target)
                if tmod == mod:
                    continue
                if tmod not in level:
                    problems.append(f"{rel}: includes {target} of unknown module '{tmod}'")
                elif level[tmod] >= level[mod]:
                    way = "sideways" if level[tmod] == level[mod] else "up"
                    problems.append(f"{rel} ({mod}) -> {target} ({tmod}): points {way}")

    # Circles between files: depth-first search over the include edges.
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                problems.append("circle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)

    for p in problems:
        print(p)
    if problems:
        print(f"layers: {len(problems)} problem(s)")
        return 1
    print(f"layers: ok ({len(graph)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
