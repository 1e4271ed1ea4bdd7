#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks of issue 7: what a user interrupt costs against eventfd,
# pipes, signals, futexes and Unix sockets, and what the hooks cost context
# switches.  Builds the kernel, module and initramfs (with bench/), boots
# the emulated Sapphire Rapids (2 CPUs) and QEMU TCG (2 CPUs) in
# uintr_guest=bench mode, collects the BENCH lines of both into one JSON
# file, draws the latency ladder and prints a table with the targets.
#
# Usage: bench.sh [-n ROUNDTRIPS] [-r REPEATS] [--kdir KERNEL_BUILD_DIR]
#                 [--no-qemu] [--no-bochs] [--out DIR]
#
# -n: round trips per run of a case (default 400, after n/10 + 10 warm-up
# round trips); -r: runs of each case, each with new threads or processes
# (default 5); a case's median is the median of its runs' medians, its p99
# is over all runs' round trips.  With the defaults the emulated machine
# runs for about 140 s of wall time and QEMU for one to four minutes,
# depending on the host's load.  --kdir: use an already built patched kernel tree
# instead of build-kernel.sh's ($UINTR_CACHE/linux-build).  --out: where
# the JSON and PNG go (default Documentation/results); a copy is kept in
# $UINTR_CACHE/results/bench/.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=400 reps=5 kdir= qemu=1 bochs=1 out=$UINTR_TOP/Documentation/results
ips=50000000
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n=${2:?}; shift ;;
	-r) reps=${2:?}; shift ;;
	--kdir) kdir=${2:?}; shift ;;
	--no-qemu) qemu=0 ;;
	--no-bochs) bochs=0 ;;
	--out) out=${2:?}; shift ;;
	-h|--help)
		awk '/^# Usage:/ { on = 1 } on && !/^#/ { exit } on { sub(/^# ?/, ""); print }' "$0" >&2
		exit 2 ;;
	*) die "unknown option: $1" ;;
	esac
	shift
done
[[ "$n" =~ ^[0-9]+$ && "$reps" =~ ^[0-9]+$ ]] || die "-n and -r take numbers"

start=$(date +%s)
work=$UINTR_CACHE/results/bench
mkdir -p "$work"
"$UINTR_TOP/scripts/bootstrap.sh"
if [ -n "$kdir" ]; then
	kdir=$(cd "$kdir" && pwd)
	[ -f "$kdir/Module.symvers" ] && [ -f "$kdir/arch/x86/boot/bzImage" ] ||
		die "$kdir is not a built kernel tree"
else
	compgen -G "$UINTR_TOP/patches/[0-9]*.patch" > /dev/null ||
		die "no patches/: pass --kdir with a built patched kernel tree"
	"$UINTR_TOP/scripts/build-kernel.sh"
	kdir=$KOUT
fi
# Kernel builds take the lock exclusively: the module, the kernel image
# and its configuration are taken from one state of the tree.
exec 9> "$KLOCK"
flock -s 9
log "module against $kdir"
if [ "$kdir" = "$KOUT" ]; then
	"$UINTR_TOP/scripts/build-module.sh"
	module=$MODOUT/uintr.ko
else
	# Its own output directory: not the one of the cached kernel's module.
	rm -rf "$UINTR_TOP/build/kdir"
	(cd "$UINTR_TOP" && make -s KDIR="$kdir" MO="$UINTR_TOP/build/kdir" BINDGEN="$BINDGEN" clippy) ||
		die "module build failed"
	module=$UINTR_TOP/build/kdir/uintr.ko
fi
cp "$kdir/arch/x86/boot/bzImage" "$work/bzImage"
cp "$kdir/.config" "$work/kernel.config"
bzimage=$work/bzImage
initrd=$work/initramfs.cpio.zst
"$UINTR_TOP/scripts/build-initramfs.sh" --module "$module" "$initrd"
exec 9>&-

args="uintr_guest=bench uintr_bench_n=$n uintr_bench_reps=$reps"
logs=()
if [ "$bochs" -eq 1 ]; then
	log "emulated Sapphire Rapids, 2 CPUs, ips=$ips: $work/spr.log"
	t0=$(date +%s)
	rc=0
	"$UINTR_TOP/scripts/run-bochs.sh" --kernel "$bzimage" --initrd "$initrd" --cpus 2 \
		--ips "$ips" --timeout 1800 --append "$args uintr_bench_machine=spr-bochs" \
		--log "$work/spr.log" > /dev/null || rc=$?
	echo "$(($(date +%s) - t0))" > "$work/spr.seconds"
	[ "$rc" -eq 0 ] || log "run-bochs.sh exited with $rc"
	"$UINTR_TOP/scripts/check-log.sh" "$work/spr.log" spr-bench || true
	logs+=("spr-bochs=$work/spr.log")
fi
if [ "$qemu" -eq 1 ]; then
	log "QEMU TCG, 2 CPUs: $work/qemu.log"
	t0=$(date +%s)
	rc=0
	"$UINTR_TOP/scripts/run-qemu.sh" --kernel "$bzimage" --initrd "$initrd" --cpus 2 \
		--timeout 900 --append "$args uintr_bench_machine=qemu-tcg" \
		--log "$work/qemu.log" > /dev/null || rc=$?
	echo "$(($(date +%s) - t0))" > "$work/qemu.seconds"
	[ "$rc" -eq 0 ] || log "run-qemu.sh exited with $rc"
	"$UINTR_TOP/scripts/check-log.sh" "$work/qemu.log" qemu-bench || true
	logs+=("qemu-tcg=$work/qemu.log")
fi
[ ${#logs[@]} -gt 0 ] || die "nothing to run"

mkdir -p "$out"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
/usr/bin/python3 "$UINTR_TOP/scripts/bench-report.py" \
	--date "$stamp" --n "$n" --reps "$reps" --ips "$ips" --cpus 2 \
	--kernel-config "$work/kernel.config" --commit "$(git -C "$UINTR_TOP" describe --always --dirty)" \
	--bochs "Bochs 3.0 + emulator/patches, build $(basename "$(dirname "$(dirname "$("$UINTR_TOP/scripts/build-bochs.sh")")")")" \
	--qemu "$(qemu-system-x86_64 --version | head -n1)" \
	--json "$out/benchmarks.json" --png "$out/benchmarks.png" --markdown "$work/benchmarks.md" \
	"${logs[@]}"
cp "$out/benchmarks.json" "$work/benchmarks-$stamp.json"
cp "$out/benchmarks.png" "$work/benchmarks-$stamp.png"
for l in "${logs[@]}"; do
	cp "${l#*=}" "$work/${l%%=*}-$stamp.log"
done
log "results: $out/benchmarks.json, $out/benchmarks.png (copies in $work)"
log "bench.sh took $(($(date +%s) - start)) s"
