#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build everything (toolchain, kernel with patches/, module, emulator) and
# boot the emulated Sapphire Rapids to show a user interrupt being sent by
# one thread and received by another's handler.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$UINTR_TOP/scripts/bootstrap.sh"
"$UINTR_TOP/scripts/build-kernel.sh"
"$UINTR_TOP/scripts/build-module.sh"
"$UINTR_TOP/scripts/build-initramfs.sh" "$UINTR_CACHE/initramfs.cpio.zst"
mkdir -p "$UINTR_CACHE/results"
logf=$UINTR_CACHE/results/demo.log
log "booting the emulated Sapphire Rapids (2 CPUs); serial log: $logf"
"$UINTR_TOP/scripts/run-bochs.sh" --kernel "$KOUT/arch/x86/boot/bzImage" \
	--initrd "$UINTR_CACHE/initramfs.cpio.zst" --cpus 2 \
	--append "uintr_guest=demo" --log "$logf" --timeout 300 > /dev/null || true
echo
grep -E '^(uintr-guest: mode|receiver:|sender:|demo:)' "$logf" | tr -d '\r'
grep -q '^ok [0-9]* guest: demo' "$logf" || die "the demo did not deliver every interrupt (see $logf)"
echo "user interrupts delivered."
