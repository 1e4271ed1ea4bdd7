#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every C and Rust example in README.md, Documentation/ and the man pages
is a complete program that compiles and links: C against the uapi header
and libuintr (gcc -muintr -pthread, warnings are errors), Rust against the
uintr crate.  A block fenced as "c excerpt PATH" or "rust excerpt PATH"
quotes the project's own source instead: each of its paragraphs must be
a run of consecutive lines of one file under PATH (a file or a directory;
in a patch, of its added lines).  Prints one line per problem; exits non-zero if there is any.

Usage: check-examples.py TOP LIBUINTR_A UINTR_RLIB RUST_DEPS_DIR
"""
import pathlib
import re
import subprocess
import sys
import tempfile

top = pathlib.Path(sys.argv[1])
libuintr, rlib, deps = sys.argv[2], sys.argv[3], sys.argv[4]
problems = []
blocks = []  # (where, language, info, text)

for md in [top / "README.md", *sorted((top / "Documentation").glob("*.md"))]:
    text = md.read_text()
    for m in re.finditer(r"^```([^\n]*)\n(.*?)^```", text, re.M | re.S):
        info = m.group(1).strip().split()
        if info and info[0] in ("c", "rust"):
            line = text[:m.start()].count("\n") + 1
            blocks.append((f"{md.relative_to(top)}:{line}", info[0], info[1:], m.group(2)))

for page in sorted((top / "man").glob("man*/*")):
    text = page.read_text()
    for m in re.finditer(r"^\.EX\n(.*?)^\.EE", text, re.M | re.S):
        line = text[:m.start()].count("\n") + 1
        # Undo the roff escapes the examples use.
        code = m.group(1).replace("\\e", "\\").replace("\\-", "-")
        blocks.append((f"{page.relative_to(top)}:{line}", "c", [], code))


def source_texts(path):
    """Each file under PATH as a list of lines (a patch: its added lines)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        lines = f.read_text(errors="replace").splitlines()
        if f.suffix == ".patch":
            lines = [l[1:] for l in lines if l.startswith("+") and not l.startswith("+++")]
        yield [l.rstrip() for l in lines]


def contains(haystack, needle):
    """Whether NEEDLE's lines appear in HAYSTACK consecutively, in order."""
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    for n, (where, lang, info, code) in enumerate(blocks):
        if info[:1] == ["excerpt"]:
            if len(info) != 2 or not (top / info[1]).exists():
                problems.append(f"{where}: an excerpt names no existing path")
                continue
            # Each paragraph of the excerpt must be a run of lines of one file.
            texts = list(source_texts(top / info[1]))
            for para in re.split(r"\n\s*\n", code.strip("\n")):
                lines = [l.rstrip() for l in para.splitlines()]
                if not any(contains(t, lines) for t in texts):
                    problems.append(f"{where}: not a run of lines of {info[1]}: {lines[0].strip()}")
            continue
        if info:
            problems.append(f"{where}: unknown fence options {' '.join(info)}")
            continue
        if lang == "c":
            src = tmp / f"ex{n}.c"
            src.write_text(code)
            cmd = ["gcc", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                   "-muintr", "-pthread", f"-I{top}/include/uapi", f"-I{top}/lib/include",
                   "-o", str(tmp / f"ex{n}"), str(src), libuintr, "-lm"]
        else:
            src = tmp / f"ex{n}.rs"
            src.write_text(code)
            cmd = ["rustc", "--edition", "2021", "-D", "warnings", "--extern",
                   f"uintr={rlib}", "-L", deps, "-o", str(tmp / f"ex{n}"), str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            first = (r.stderr.strip().splitlines() or ["?"])[:6]
            problems.append(f"{where}: does not build:\n    " + "\n    ".join(first))

print(f"{len(blocks)} examples checked")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
