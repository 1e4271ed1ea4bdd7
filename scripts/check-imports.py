#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module's imports between its top-level Rust modules must form no
circle (syscalls -> state objects -> logic/hw, fpu_hooks -> state objects).
Reads every .rs file of the module (not model/ or crates/), takes each
"crate::NAME" it mentions (in use declarations and paths; also the
"super::NAME" that reaches the crate root) as an edge from
the file's top-level module to NAME, prints the graph's circles and exits
non-zero if there is one.

Usage: check-imports.py [TOP] [--dot]
"""
import pathlib
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
top = pathlib.Path(args[0] if args else pathlib.Path(__file__).resolve().parent.parent)
skip = {"model", "crates", "build", "selftests", "bench", "examples", "lib", "emulator"}
edges = {}
for f in sorted(top.rglob("*.rs")):
    rel = f.relative_to(top)
    if rel.parts[0] in skip or rel.name == "uintr_mod.rs":
        continue
    mod = rel.parts[0].removesuffix(".rs")
    text = re.sub(r"//[^\n]*", "", f.read_text())
    names = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    # super:: from a top-level file, super::super:: from one folder down,
    # reach the crate root's modules too.
    up = "super::" * len(rel.parts)
    names.update(re.findall(r"(?<![:\w])" + re.escape(up) + r"([a-z_][a-z0-9_]*)", text))
    # use crate::{a::..., b, ...}: the first segment of each item.
    for block in re.findall(r"\bcrate::\{(.*?)\};", text, re.S):
        depth, item = 0, ""
        for ch in block + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                first = re.match(r"\s*([a-z_][a-z0-9_]*)", item)
                if first:
                    names.add(first.group(1))
                item = ""
            else:
                item += ch
    edges.setdefault(mod, set()).update(n for n in names if n != mod)

if "--dot" in sys.argv:
    print("digraph imports {")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            print(f"  {a} -> {b};")
    print("}")

# Every elementary circle, by depth-first search from each node.
circles = set()


def walk(start, node, path):
    for nxt in sorted(edges.get(node, ())):
        if nxt == start:
            i = path.index(min(path))
            circles.add(tuple(path[i:] + path[:i]))
        elif nxt not in path and nxt > start:
            walk(start, nxt, path + [nxt])


for n in sorted(edges):
    walk(n, n, [n])
for c in sorted(circles):
    print("circle: " + " -> ".join(c + (c[0],)))
sys.exit(1 if circles else 0)
