#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn a guest's serial log into a verdict.  Counts the TAP results of the
# selftests and of /init, fails on a test program that exited non-zero, on
# a run that did not reach its end marker, and on any kernel splat (oops,
# BUG, WARN, lockdep, RCU, kmemleak, KASAN's "BUG: KASAN:", UBSAN) in the
# kernel log, even if every test passed.  The cases of the KUnit suites
# that ran at boot count as tests too; the suites named in $KUNIT_SUITES
# (space-separated) must have reported.
#
# Usage: [KUNIT_SUITES="suite ..."] check-log.sh LOG NAME
# Prints "NAME: N passed, N failed, N skipped" and exits non-zero on failure.

set -euo pipefail
log=${1:?usage: check-log.sh LOG NAME}
name=${2:-guest}

tr -d '\r' < "$log" | awk -v name="$name" -v suites="${KUNIT_SUITES:-}" '
# The kernel log again, as /init dumps it: scanned for splats and for
# KUnit failures, which may have scrolled past the console.
/^uintr-guest: dmesg begin/	{ dump = 1 }
/^uintr-guest: dmesg end/	{ dump = 0 }
dump && /^\[ *[0-9]+\.[0-9]+\] +not ok [0-9]+ / { fail++; failed = failed "\n  KUnit (dmesg):" substr($0, index($0, "]") + 1) }
# KTAP from the kernel log: the cases of a suite are indented, the suite is not.
!dump && /^\[ *[0-9]+\.[0-9]+\] +(not )?ok [0-9]+ / {
	line = $0
	sub(/^\[ *[0-9]+\.[0-9]+\] /, "", line)
	if (line ~ /^ /) {
		if (line ~ /# SKIP/) skip++
		else if (line ~ /^ +ok /) pass++
		else { fail++; failed = failed "\n  KUnit:" line }
	} else {
		split(line, w, " ")
		# A suite that skipped as a whole did not report.
		if (line !~ /# SKIP/) reported[line ~ /^not / ? w[4] : w[3]] = 1
		if (line ~ /^not /) { fail++; failed = failed "\n  KUnit suite: " line }
	}
	next
}
/^ok [0-9]+ .*# SKIP/		{ skip++; next }
/^ok [0-9]+ /			{ pass++; next }
/^not ok [0-9]+ /		{ fail++; failed = failed "\n  " $0; next }
/^# exit: /			{ if ($4 != 0) { fail++; failed = failed "\n  program " $3 " exited with " $4 } next }
/^# timed: .* failed once$/	{ repeated = repeated "\n  " substr($0, 10); next }
/^uintr-guest: end/		{ ended = 1 }
/(------------\[ cut here \]|BUG:|Oops:|WARNING:|Call Trace:|Kernel panic|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|unreferenced object|general protection fault, |stack segment: |double fault|UBSAN:)/ {
	# Kernel log lines carry a timestamp; test output does not.
	if ($0 ~ /^\[ *[0-9]+\.[0-9]+\]/ || $0 ~ /Kernel panic|unreferenced object/) {
		splat++
		if (splat <= 10) splats = splats "\n  " $0
	}
}
END {
	n = split(suites, want, " ")
	for (i = 1; i <= n; i++)
		if (!(want[i] in reported)) { fail++; failed = failed "\n  the KUnit suite " want[i] " did not report" }
	if (!ended) { fail++; failed = failed "\n  the guest did not reach its end (crash or timeout)" }
	if (splat) { fail++; failed = failed "\n  kernel splat in the log:" splats }
	if (pass + fail == 0) { fail++; failed = failed "\n  no test results at all" }
	printf "%s: %d passed, %d failed, %d skipped\n", name, pass, fail, skip
	# A timed check that passed only on its second run is shown.
	if (repeated) printf "%s timed checks run twice:%s\n", name, repeated
	if (fail) { printf "%s failures:%s\n", name, failed; exit 1 }
}'
