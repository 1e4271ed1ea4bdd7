#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the code lines the kernel series adds or changes.

A code line is a "+" line of a patch outside Documentation/, MAINTAINERS
and the KUnit suite (*_kunit.c)
that is neither blank nor a comment.  Lines a patch removes are not
counted: every removed line of this series is replaced by a counted one.

  scripts/series-size.py [--by file|hunk] [--check-cover] [patches/000*.patch]

--check-cover fails unless the cover letter's per-patch counts and total
match what is counted here.
"""
import argparse
import glob
import os
import re
import sys

EXCLUDED = ("Documentation/", "MAINTAINERS")
EXCLUDED_SUFFIX = "_kunit.c"  # the KUnit suite


def strip_comments(text, in_comment):
    """TEXT without its C comments; returns it and whether a comment is open."""
    out = ""
    while text:
        if in_comment:
            end = text.find("*/")
            if end < 0:
                return out, True
            text, in_comment = text[end + 2:], False
        else:
            start = text.find("/*")
            line = text.find("//")
            if line >= 0 and (start < 0 or line < start):
                return out + text[:line], False
            if start < 0:
                return out + text, False
            out += text[:start]
            text, in_comment = text[start + 2:], True
    return out, in_comment


def code_lines(lines):
    """The added lines of one hunk that are code, in order.

    LINES are (added, text) pairs of the hunk, context included, so that a
    comment opened in a context line is known.  A hunk may start inside a
    comment: until a line shows otherwise, one that starts with "*" is
    taken for a comment's."""
    out, in_comment, known = [], False, False
    for added, line in lines:
        if not known and not in_comment and re.match(r"\s*\*(\s|/|$)", line):
            in_comment = True
        known = known or bool(line.strip())
        text, in_comment = strip_comments(line, in_comment)
        text = text.strip()
        if not added or not text:
            continue
        if text.startswith("#") and not re.match(
                r"#\s*(include|define|if|ifdef|ifndef|elif|else|endif|undef)\b", text):
            continue  # Kconfig and Makefile comments start with '#'.
        out.append(line)
    return out


def parse(path):
    """Yields (file, hunk header, [(added, text)]) for each hunk of a patch."""
    fname, header, lines = None, None, []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("diff --git "):
                if header is not None:
                    yield fname, header, lines
                fname, header, lines = line.split(" b/", 1)[1], None, []
            elif fname and line.startswith("@@"):
                if header is not None:
                    yield fname, header, lines
                header, lines = line, []
            elif line == "-- ":
                break
            elif header is not None and line.startswith("+"):
                lines.append((True, line[1:]))
            elif header is not None and line.startswith(" "):
                lines.append((False, line[1:]))
    if header is not None:
        yield fname, header, lines


def count(path, by):
    totals = {}
    for fname, header, added in parse(path):
        if fname.startswith(EXCLUDED) or fname.endswith(EXCLUDED_SUFFIX):
            continue
        n = len(code_lines(added))
        if not n:
            continue
        key = fname if by == "file" else f"{fname} {header.split('@@')[2].strip() or header}"
        totals[key] = totals.get(key, 0) + n
    return totals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--by", choices=("patch", "file", "hunk"), default="patch")
    ap.add_argument("--check-cover", action="store_true")
    ap.add_argument("patches", nargs="*")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    patches = args.patches or sorted(
        p for p in glob.glob(os.path.join(root, "patches", "0*.patch"))
        if not os.path.basename(p).startswith("0000-"))
    per_patch = {}
    for p in patches:
        c = count(p, "file" if args.by == "patch" else args.by)
        per_patch[os.path.basename(p)] = sum(c.values())
        if args.by != "patch":
            for key, n in c.items():
                print(f"{n:4d}  {os.path.basename(p)[:4]}  {key}")
    total = sum(per_patch.values())
    if args.by == "patch":
        for p, n in per_patch.items():
            print(f"{n:4d}  {p}")
    print(f"{total:4d}  total")
    if args.check_cover:
        cover = os.path.join(os.path.dirname(patches[0]), "0000-cover-letter.patch")
        text = open(cover, encoding="utf-8").read()
        want = [n for p, n in per_patch.items() if n]
        m = re.search(r"code lines per patch: ([\d, and]+?)\s*=\s*(\d+)", text.replace("\n", " "))
        if not m:
            sys.exit("cover letter: no 'code lines per patch: a, b, ... = total' line")
        got = [int(x) for x in re.findall(r"\d+", m.group(1))]
        if got != want or int(m.group(2)) != total:
            sys.exit(f"cover letter says {got} = {m.group(2)}, the patches have {want} = {total}")


if __name__ == "__main__":
    main()
