#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble a guest initramfs for the QEMU and emulator runners:
# busybox-static, a uintr.ko, the selftests and benchmarks (static, -muintr)
# and scripts/guest-init as /init.  Each call stages in a directory of its
# own, so initramfs images for several kernels can be built at once; the
# selftests and benchmarks are built once per checkout, in build/.
#
# Usage: build-initramfs.sh [--module UINTR.KO] OUTPUT.cpio.zst
# --module defaults to the default kernel's build/default/uintr.ko
# (UINTR_VARIANT picks another variant's).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

module=$MODOUT/uintr.ko
case "${1-}" in
--module) module=${2:?--module needs a file}; shift 2 ;;
esac
out=${1:?usage: build-initramfs.sh [--module UINTR.KO] OUTPUT.cpio.zst}
[ -f "$module" ] || die "$module: no such module (run scripts/build-module.sh)"
tests=$UINTR_TOP/build/selftests
bench=$UINTR_TOP/build/bench

mkdir -p "$UINTR_TOP/build" "$UINTR_CACHE/run"
root=$(mktemp -d "$UINTR_CACHE/run/initramfs.XXXXXX")
trap 'rm -rf "$root" "$out.tmp.$$"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,selftests}
cp /bin/busybox "$root/bin/busybox"
cp "$UINTR_TOP/scripts/guest-init" "$root/init"
chmod 755 "$root/init"
cp "$module" "$root/uintr.ko"
# The test programs are shared by every image: one build at a time, and
# nobody copies them while they are rewritten.
(
	flock 9
	make -s -C "$UINTR_TOP/selftests" OUTPUT="$tests" KSRC="$KSRC" all >&2
	for t in $(make -s -C "$UINTR_TOP/selftests" print-progs); do
		cp "$tests/$t" "$root/selftests/$t"
	done
	for t in $(make -s -C "$UINTR_TOP/selftests" print-files); do
		cp "$tests/$t" "$root/bin/$t"
	done
	# The scheduler example (examples/sched), built on libuintr.
	make -s -C "$UINTR_TOP/examples/sched" OUTPUT="$UINTR_TOP/build/examples" >&2
	cp "$UINTR_TOP/build/examples/uintr_sched" "$root/bin/uintr_sched"
	# The Rust crate's check against the module, static like the rest.
	CARGO_TARGET_DIR="$UINTR_TOP/build/crate" RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build -q --release --locked --example uintr_rs_check \
		--target x86_64-unknown-linux-gnu \
		--manifest-path "$UINTR_TOP/crates/uintr/Cargo.toml" >&2
	cp "$UINTR_TOP/build/crate/x86_64-unknown-linux-gnu/release/examples/uintr_rs_check" \
		"$root/selftests/uintr_rs_check"
	if [ -d "$UINTR_TOP/bench" ] && [ -f "$UINTR_TOP/bench/Makefile" ]; then
		make -s -C "$UINTR_TOP/bench" OUTPUT="$bench" >&2
		mkdir -p "$root/bench"
		cp "$bench"/uintr_bench* "$root/bench/" 2>/dev/null || true
	fi
) 9> "$UINTR_TOP/build/.programs.lock"
# Without debug information and compressed with zstd: the emulated CPU
# unpacks the image at every boot, and a 15 MB image in gzip took 12 s of
# its 43 s boot (zstd: 3 MB, and a faster decompressor).
find "$root/selftests" "$root/bin" "$root/bench" -type f -name 'uintr*' \
	-exec strip --strip-debug {} +
(cd "$root" && find . | sort | cpio -o -H newc --quiet | zstd -q -3) > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
log "initramfs ready: $out"
