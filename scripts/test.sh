#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, from a fresh machine or from the caches: host
# tests; the default and the kasan kernels with the module built for each;
# the guest under QEMU (no UINTR) and in the emulated Sapphire Rapids with
# 1 and 2 CPUs; the kasan kernel in the emulated Sapphire Rapids with 2
# CPUs; and the kasan kernel booted with pti=on, under QEMU and in the
# emulated CPU, where it must refuse UINTR.  Ends with one "N passed,
# N failed" line and exits non-zero if anything failed.
#
# Stages run side by side, at most UINTR_PARALLEL (default: the number of
# CPUs, at least 1) at a time: each emulator is one host thread.  A stage
# starts once the stages it needs have passed; one whose build failed is
# not run and counts as failed.  Every stage keeps its own output in
# $UINTR_CACHE/results/NAME.out (guests: NAME.log, the serial console),
# and the tally is taken from those, in a fixed order.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

results=$UINTR_CACHE/results
mkdir -p "$results"
rm -f "$results"/*.log "$results"/*.log.bochs "$results"/*.out "$results"/*.summary
PARALLEL=${UINTR_PARALLEL:-$(nproc)}
[ "$PARALLEL" -ge 1 ] || PARALLEL=1

# Run one stage's command and leave its "NAME: N passed, N failed,
# N skipped" line, then the lines that explain it, in NAME.summary.
run_stage()
{
	local name=$1; shift
	local out=$results/$name.summary
	if "$@" > "$results/$name.out" 2>&1; then :; fi
	if grep -q "^$name: [0-9]* passed" "$results/$name.out"; then
		grep -A20 "^$name: [0-9]* passed" "$results/$name.out" > "$out.tmp"
	else
		{
			echo "$name: 0 passed, 1 failed, 0 skipped"
			tail -20 "$results/$name.out" | sed 's/^/  /'
		} > "$out.tmp"
	fi
	mv "$out.tmp" "$out"
}

guest()
{
	local name=$1 runner=$2 variant=$3 cpus=$4 append=$5 timeout=$6 kout rc=0
	kout=$(set_variant "$variant" && echo "$KOUT")
	"$UINTR_TOP/scripts/$runner" --kernel "$kout/arch/x86/boot/bzImage" \
		--initrd "$UINTR_CACHE/initramfs-$variant.cpio.zst" --cpus "$cpus" \
		--append "$append" --timeout "$timeout" --log "$results/$name.log" || rc=$?
	[ $rc -eq 0 ] || echo "$name: runner exited with $rc" >&2
	KUNIT_SUITES=x86_uintr_hooks \
		"$UINTR_TOP/scripts/check-log.sh" "$results/$name.log" "$name"
}

build()
{
	local name=$1 variant=$2 module
	module=$(set_variant "$variant" && echo "$MODOUT/uintr.ko")
	"$UINTR_TOP/scripts/build-kernel.sh" --variant "$variant" &&
	"$UINTR_TOP/scripts/build-module.sh" --variant "$variant" &&
	"$UINTR_TOP/scripts/build-initramfs.sh" --module "$module" \
		"$UINTR_CACHE/initramfs-$variant.cpio.zst" &&
	echo "$name: 1 passed, 0 failed, 0 skipped"
}

# The stages, in the order they are started when their inputs are ready
# (builds first, then the longest runs first) and reported.
order=()
declare -A cmd=() needs=()
add()
{
	local name=$1 deps=$2
	shift 2
	order+=("$name")
	needs[$name]=$deps
	cmd[$name]=$(printf '%q ' "$@")
}

add build "" build build default
add build-kasan "" build build-kasan kasan
if [ -x "$UINTR_TOP/scripts/run-bochs.sh" ]; then
	add spr-kasan-2cpu build-kasan guest spr-kasan-2cpu run-bochs.sh kasan 2 uintr_guest=test 1200
	add spr-2cpu build guest spr-2cpu run-bochs.sh default 2 uintr_guest=test 600
	add spr-1cpu build guest spr-1cpu run-bochs.sh default 1 uintr_guest=test 600
	add spr-kasan-pti build-kasan guest spr-kasan-pti run-bochs.sh kasan 2 "uintr_guest=pti pti=on" 600
fi
[ -x "$UINTR_TOP/scripts/test-host.sh" ] && add host "" "$UINTR_TOP/scripts/test-host.sh"
if [ -x "$UINTR_TOP/scripts/run-bochs.sh" ] && [ -x "$UINTR_TOP/scripts/run-conformance.sh" ]; then
	add conformance "" "$UINTR_TOP/scripts/run-conformance.sh"
fi
add qemu build guest qemu run-qemu.sh default 2 uintr_guest=test 300
add qemu-kasan-pti build-kasan guest qemu-kasan-pti run-qemu.sh kasan 2 "uintr_guest=pti pti=on" 300

passed()
{
	[ -f "$results/$1.summary" ] && head -1 "$results/$1.summary" | grep -q ' 0 failed'
}

"$UINTR_TOP/scripts/bootstrap.sh"

declare -A state=() started=() pid_stage=()
running=0
t0=$(date +%s)
while :; do
	for name in "${order[@]}"; do
		[ -z "${state[$name]-}" ] || continue
		ready=1
		for dep in ${needs[$name]}; do
			case "${state[$dep]-}" in
			done) passed "$dep" || ready=failed ;;
			*) ready=0 ;;
			esac
			[ "$ready" = 1 ] || break
		done
		if [ "$ready" = failed ]; then
			printf '%s: 0 passed, 1 failed, 0 skipped\n  not run: %s failed\n' \
				"$name" "$dep" > "$results/$name.summary"
			state[$name]=done
			log "-- $name not run: $dep failed"
			continue
		fi
		[ "$ready" = 1 ] && [ "$running" -lt "$PARALLEL" ] || continue
		log "== $name"
		eval "run_stage $name ${cmd[$name]}" &
		pid_stage[$!]=$name
		started[$name]=$(date +%s)
		state[$name]=running
		running=$((running + 1))
	done
	[ "$running" -gt 0 ] || break
	pid=
	wait -n -p pid || true
	[ -n "$pid" ] || continue
	name=${pid_stage[$pid]}
	unset "pid_stage[$pid]"
	state[$name]=done
	running=$((running - 1))
	log "-- $name ($(($(date +%s) - started[$name])) s): $(head -1 "$results/$name.summary")"
	tail -n +2 "$results/$name.summary"
done

total_pass=0 total_fail=0 total_skip=0
echo
for name in "${order[@]}"; do
	line=$(head -1 "$results/$name.summary" 2>/dev/null || echo "$name: 0 passed, 1 failed, 0 skipped")
	echo "$line"
	p=$(sed -n 's/.*: \([0-9]*\) passed.*/\1/p' <<< "$line")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<< "$line")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<< "$line")
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-1}))
	total_skip=$((total_skip + ${s:-0}))
done
echo "logs: $results (wall time $(($(date +%s) - t0)) s)"
echo "$total_pass passed, $total_fail failed ($total_skip skipped)"
[ "$total_fail" -eq 0 ]
