#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build everything (packages and sources, kernel with patches/, module,
# emulator) and boot the emulated Sapphire Rapids to show a user interrupt
# being sent by one thread and received by another's handler.
#
# One line per step, with the elapsed time and what is left; the tools'
# own output goes to $UINTR_CACHE/results/demo-build.log, named (with its
# last lines) if a step fails.  On a fresh machine the kernel build takes
# most of the time (about ten minutes on two cores).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$UINTR_CACHE/results"
buildlog=$UINTR_CACHE/results/demo-build.log
logf=$UINTR_CACHE/results/demo.log
: > "$buildlog"
t0=$(date +%s)
steps=("install packages and sources" "build the kernel" "build the module"
       "build the emulator" "boot the emulated machine")

# step N: say which step runs, how long we have been at it, what is left.
step()
{
	local n=$1 left=("${steps[@]:$1}")
	local rest=${left[*]/#/, }
	printf '[%4ds] step %d/%d: %s%s\n' $(($(date +%s) - t0)) "$n" ${#steps[@]} \
		"${steps[n - 1]}" "${rest:+ (then${rest#,})}"
}

# quietly CMD...: run CMD with its output in the build log.
quietly()
{
	if ! "$@" >> "$buildlog" 2>&1; then
		echo "failed: ${*##*/}; its output is in $buildlog, ending with:"
		tail -20 "$buildlog" | sed 's/^/  /'
		exit 1
	fi
}

step 1
quietly "$UINTR_TOP/scripts/bootstrap.sh"

step 2
# The kernel build's progress every 30 s: objects built so far, against
# the count of a complete build of the default kernel (1320 objects for
# 7.2.13 with scripts/kernel.config, counted in a finished build tree).
set_variant default
marker=$UINTR_CACHE/results/demo-kernel-start
touch "$marker"
quietly "$UINTR_TOP/scripts/build-kernel.sh" &
kpid=$!
while kill -0 "$kpid" 2> /dev/null; do
	sleep 30
	kill -0 "$kpid" 2> /dev/null || break
	built=$(find "$KOUT" -name '*.o' -newer "$marker" 2> /dev/null | wc -l)
	printf '[%4ds]   kernel: %d of about 1320 objects built\n' $(($(date +%s) - t0)) "$built"
done
wait "$kpid"

step 3
quietly "$UINTR_TOP/scripts/build-module.sh"
quietly "$UINTR_TOP/scripts/build-initramfs.sh" "$UINTR_CACHE/initramfs.cpio.zst"

step 4
quietly "$UINTR_TOP/scripts/build-bochs.sh"

step 5
echo "         serial console: $logf"
"$UINTR_TOP/scripts/run-bochs.sh" --kernel "$KOUT/arch/x86/boot/bzImage" \
	--initrd "$UINTR_CACHE/initramfs.cpio.zst" --cpus 2 \
	--append "uintr_guest=demo" --log "$logf" --timeout 300 > /dev/null 2>> "$buildlog" || true
printf '[%4ds] done\n\n' $(($(date +%s) - t0))
grep -E '^(receiver:|sender:)' "$logf" | tr -d '\r'
grep -q '^ok [0-9]* guest: demo' "$logf" || die "the demo did not deliver every interrupt (see $logf)"
echo
echo "What you saw: $(grep -E '^demo: ' "$logf" | tr -d '\r' | sed 's/^demo: //')."
cat <<'TEXT'
The kernel took part in setting up (the receiver registered its handler
and made a vector fd, the sender turned that fd into an index of its
process's target table); each interrupt then went from the sender's CPU
to the receiver's with SENDUIPI and the CPU's notification processing,
and the handler ran in the receiver between two of its instructions.
Next: README.md ("A user interrupt in ten lines"), Documentation/uapi.md.
TEXT
