#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble the guest initramfs shared by the QEMU and emulator runners:
# busybox-static, uintr.ko, the selftests and benchmarks (static, -muintr)
# and scripts/guest-init as /init.
#
# Usage: build-initramfs.sh OUTPUT.cpio.gz

set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?usage: build-initramfs.sh OUTPUT.cpio.gz}
root=$UINTR_CACHE/initramfs
tests=$UINTR_CACHE/selftests

make -s -C "$UINTR_TOP/selftests" OUTPUT="$tests" KSRC="$KSRC" all >&2

rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,selftests}
cp /bin/busybox "$root/bin/busybox"
cp "$UINTR_TOP/scripts/guest-init" "$root/init"
chmod 755 "$root/init"
cp "$UINTR_TOP/uintr.ko" "$root/uintr.ko"
for t in $(make -s -C "$UINTR_TOP/selftests" print-progs); do
	cp "$tests/$t" "$root/selftests/$t"
done
for t in $(make -s -C "$UINTR_TOP/selftests" print-files); do
	cp "$tests/$t" "$root/bin/$t"
done
if [ -d "$UINTR_TOP/bench" ] && [ -f "$UINTR_TOP/bench/Makefile" ]; then
	make -s -C "$UINTR_TOP/bench" OUTPUT="$UINTR_CACHE/bench" >&2
	mkdir -p "$root/bench"
	cp "$UINTR_CACHE"/bench/uintr_bench* "$root/bench/" 2>/dev/null || true
fi
(cd "$root" && find . | sort | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
log "initramfs ready: $out"
