#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, from a fresh machine or from the caches: host
# tests, then the guest under QEMU (no UINTR) and in the emulated Sapphire
# Rapids with 1 and 2 CPUs.  Ends with one "N passed, N failed" line and
# exits non-zero if anything failed.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

results=$UINTR_CACHE/results
mkdir -p "$results"
rm -f "$results"/*.log "$results"/*.summary
total_pass=0 total_fail=0 total_skip=0

# Record one stage's "NAME: N passed, N failed, N skipped" line.
tally()
{
	local line=$1 p f s
	echo "$line"
	p=$(sed -n 's/.*: \([0-9]*\) passed.*/\1/p' <<< "$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<< "$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<< "$line")
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-1}))
	total_skip=$((total_skip + ${s:-0}))
}

stage()
{
	local name=$1; shift
	local out=$results/$name.summary
	log "== $name"
	if "$@" > "$results/$name.out" 2>&1; then :; fi
	if grep -q "^$name: [0-9]* passed" "$results/$name.out"; then
		grep -A20 "^$name: [0-9]* passed" "$results/$name.out" > "$out"
	else
		tail -20 "$results/$name.out"
		echo "$name: 0 passed, 1 failed, 0 skipped" > "$out"
	fi
	tally "$(head -1 "$out")"
	tail -n +2 "$out"
}

guest()
{
	local name=$1 runner=$2 cpus=$3 rc=0
	"$UINTR_TOP/scripts/$runner" --kernel "$KOUT/arch/x86/boot/bzImage" \
		--initrd "$UINTR_CACHE/initramfs.cpio.gz" --cpus "$cpus" \
		--append "uintr_guest=test" --log "$results/$name.log" || rc=$?
	[ $rc -eq 0 ] || echo "$name: runner exited with $rc" >&2
	"$UINTR_TOP/scripts/check-log.sh" "$results/$name.log" "$name"
}

build()
{
	"$UINTR_TOP/scripts/build-kernel.sh" &&
	"$UINTR_TOP/scripts/build-module.sh" &&
	"$UINTR_TOP/scripts/build-initramfs.sh" "$UINTR_CACHE/initramfs.cpio.gz" &&
	echo "build: 1 passed, 0 failed, 0 skipped"
}

"$UINTR_TOP/scripts/bootstrap.sh"
[ -x "$UINTR_TOP/scripts/test-host.sh" ] && stage host "$UINTR_TOP/scripts/test-host.sh"
stage build build
if [ -f "$UINTR_CACHE/initramfs.cpio.gz" ]; then
	stage qemu guest qemu run-qemu.sh 2
	if [ -x "$UINTR_TOP/scripts/run-bochs.sh" ]; then
		[ -x "$UINTR_TOP/scripts/run-conformance.sh" ] &&
			stage conformance "$UINTR_TOP/scripts/run-conformance.sh"
		stage spr-1cpu guest spr-1cpu run-bochs.sh 1
		stage spr-2cpu guest spr-2cpu run-bochs.sh 2
	fi
fi

echo "logs: $results"
echo "$total_pass passed, $total_fail failed ($total_skip skipped)"
[ "$total_fail" -eq 0 ]
