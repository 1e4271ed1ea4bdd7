#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Shows that the series is bisectable: applies patches/ one patch at a time
# onto the pristine source, and after each one runs checkpatch --strict on
# that patch, builds a small kernel (scripts/kernel-series.config, with
# UINTR enabled from the patch that adds the option) and boots it under
# QEMU to a shell that ends the machine.  Prints one line per patch and fails on the first patch
# that does not apply, build or boot.  checkpatch findings are printed,
# not fatal: the series documents the few it keeps.
#
# Usage: check-series.sh
#
# Uses its own worktree and build tree under $UINTR_CACHE (series-*), so it
# does not disturb the test kernels; the first build is a full one, each
# later one is incremental.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$UINTR_TOP/scripts/bootstrap.sh"
wt=$UINTR_CACHE/series-src
out=$UINTR_CACHE/series-build
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Kept between runs: going back to the pristine tree rewrites only the
# files the series changes, so the build tree stays mostly valid.
if git -C "$wt" rev-parse -q --verify HEAD > /dev/null 2>&1; then
	git -C "$wt" am --abort > /dev/null 2>&1 || true
	git -C "$wt" checkout -q -f --detach pristine
else
	rm -rf "$wt"
	git -C "$KSRC" worktree prune
	git -C "$KSRC" worktree add -q --detach "$wt" pristine
fi

# A guest that only says it booted, and ends: QEMU runs with -no-reboot.
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc"
cp "$(command -v busybox)" "$work/root/bin/busybox"
cat > "$work/root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "series-boot: $(/bin/busybox uname -r)"
/bin/busybox reboot -f
EOF
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"

# The configuration, made without the series' option, which does not
# exist yet.
make -s -C "$wt" O="$out" "${KMAKE_VARS[@]}" tinyconfig > /dev/null
"$wt/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
	"$UINTR_TOP/scripts/kernel-series.config" > /dev/null
make -s -C "$wt" O="$out" "${KMAKE_VARS[@]}" olddefconfig > /dev/null
grep -q "^CONFIG_RUST=y" "$out/.config" || die "the series kernel has no Rust"

n=0
for p in "$UINTR_TOP"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	case "${p##*/}" in 0000-cover-letter.patch) continue ;; esac
	n=$((n + 1))
	git -C "$wt" -c user.name=uintr -c user.email=uintr@localhost \
		am -q --whitespace=nowarn "$p" || die "patch $n does not apply: ${p##*/}"
	checks=$(perl "$wt/scripts/checkpatch.pl" --strict --no-tree -q --terse "$p" |
		grep -E ": (ERROR|WARNING|CHECK):" || true)
	"$wt/scripts/config" --file "$out/.config" -e X86_USER_INTERRUPTS
	make -s -C "$wt" O="$out" "${KMAKE_VARS[@]}" olddefconfig > /dev/null
	log "patch $n: building"
	make -s -C "$wt" O="$out" "${KMAKE_VARS[@]}" -j"$JOBS" bzImage > "$work/build.log" 2>&1 ||
		{ tail -30 "$work/build.log" >&2; die "patch $n does not build: ${p##*/}"; }
	if grep -q "warning:" "$work/build.log"; then
		grep "warning:" "$work/build.log" >&2
		die "patch $n builds with warnings: ${p##*/}"
	fi
	"$UINTR_TOP/scripts/run-qemu.sh" --kernel "$out/arch/x86/boot/bzImage" \
		--initrd "$work/initrd.cpio" --log "$work/boot.log" --cpus 1 --timeout 120 > /dev/null ||
		die "patch $n: the guest did not end itself"
	grep -q "series-boot:" "$work/boot.log" || die "patch $n does not boot: ${p##*/}"
	if grep -E -q "WARNING:|BUG:|Oops|Call Trace" "$work/boot.log"; then
		grep -E "WARNING:|BUG:|Oops|Call Trace" "$work/boot.log" >&2
		die "patch $n: the boot log has a splat"
	fi
	uintr=$(grep -c "^CONFIG_X86_USER_INTERRUPTS=y" "$out/.config" || true)
	echo "patch $n ok (UINTR config: $uintr, checkpatch: $(printf '%s' "$checks" | grep -c . || true) findings): ${p##*/}"
	[ -z "$checks" ] || printf '%s\n' "$checks" | sed "s|^$UINTR_TOP/patches/||; s/^/    /"
done
echo "series: $n patches, each applies, builds without warnings and boots"
