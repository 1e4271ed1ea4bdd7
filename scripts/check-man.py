#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the man pages in man/ against Documentation/uapi.md and the uapi
header: every ioctl of the header has a page, and each page's ERRORS
section names exactly the errno values uapi.md lists for its ioctls (plus
those that apply to every ioctl taking a struct).  Prints one line per
problem and exits non-zero if there is any.

Usage: check-man.py [TOP]
"""
import pathlib
import re
import sys

top = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parent.parent)
man = top / "man"

# The page that documents each ioctl.
PAGE = {
    "UINTR_REGISTER_HANDLER": "UINTR_REGISTER_HANDLER",
    "UINTR_UNREGISTER_HANDLER": "UINTR_REGISTER_HANDLER",
    "UINTR_CREATE_VECTOR_FD": "UINTR_CREATE_VECTOR_FD",
    "UINTR_REGISTER_SENDER": "UINTR_REGISTER_SENDER",
    "UINTR_REGISTER_SELF": "UINTR_REGISTER_SENDER",
    "UINTR_UNREGISTER_SENDER": "UINTR_REGISTER_SENDER",
    "UINTR_WAIT": "UINTR_WAIT",
    "UINTR_WATCH_FD": "UINTR_WATCH_FD",
    "UINTR_CREATE_TIMER": "UINTR_CREATE_TIMER",
}
# What every page lists besides its own (uapi.md's "all" rows).
COMMON = {"EFAULT", "EOPNOTSUPP"}
problems = []

header = (top / "include/uapi/linux/uintr.h").read_text()
for name in re.findall(r"^#define\s+(UINTR_[A-Z_]+)\s+_IO", header, re.M):
    if name not in PAGE:
        problems.append(f"{name}: no man page is assigned to it")

want = {page: set() for page in set(PAGE.values())}
want["uintr.7"] = set()
uapi = (top / "Documentation/uapi.md").read_text()
section = uapi.split("## Errors", 1)[1].split("\n## ", 1)[0]
current = None
for line in section.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if not line.startswith("|") or len(cells) < 2 or re.fullmatch(r"-+", cells[1]):
        continue
    who, errs = cells[0], re.findall(r"`(E[A-Z]+)`", cells[1])
    if who in ("ioctl", "call"):
        current = None
        continue
    if who:
        names = re.findall(r"UINTR_[A-Z_]+", who)
        if names:
            current = {PAGE[n] for n in names}
        elif who.startswith("all") or "open()" in who:
            current = {"uintr.7"}
        elif "read()" in who or "poll()" in who:
            current = {"UINTR_CREATE_VECTOR_FD"}
        else:
            problems.append(f"uapi.md: row for {who!r} names no known ioctl")
            continue
    if current is None:
        continue
    for page in current:
        want[page].update(errs)


def errors_section(path):
    """The errno values a page's ERRORS section has a tagged paragraph for."""
    text = path.read_text()
    m = re.search(r"^\.SH ERRORS\n(.*?)(?=^\.SH )", text, re.M | re.S)
    if not m:
        problems.append(f"{path.name}: no ERRORS section")
        return set()
    lines = m.group(1).splitlines()
    return {e for prev, line in zip(lines, lines[1:]) if prev == ".TP"
            for e in re.findall(r"\bE[A-Z]{3,}\b", line)}


for page, errs in sorted(want.items()):
    path = (man / "man7" / page) if page == "uintr.7" else \
        (man / "man2const" / f"{page}.2const")
    if not path.exists():
        problems.append(f"{path.relative_to(top)}: missing")
        continue
    have = errors_section(path)
    expected = errs | (COMMON if page != "uintr.7" else set())
    for e in sorted(expected - have):
        problems.append(f"{path.name}: ERRORS lacks {e}, which uapi.md lists")
    for e in sorted(have - expected - ({"ENOTTY", "ENODEV"} if page == "uintr.7" else set())):
        problems.append(f"{path.name}: ERRORS names {e}, which uapi.md does not list")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
