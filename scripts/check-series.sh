#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Shows that the series is bisectable: applies patches/ one patch at a time
# onto the pristine source, and after each one runs checkpatch --strict on
# that patch, builds a small kernel (scripts/kernel-series.config, with
# UINTR enabled from the patch that adds the option) and boots it under
# QEMU to a shell that ends the machine.  Then builds the whole series
# once more with CONFIG_X86_USER_INTERRUPTS=n, the option's default.
# Prints one line per patch and fails on the first patch that does not
# apply, configure as asked, build without a warning or boot without a
# splat.  checkpatch findings are printed, not fatal: the series
# documents the few it keeps.
#
# Usage: check-series.sh
#
# Uses its own worktree and build trees under $UINTR_CACHE (series-*), so
# it does not disturb the test kernels.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$UINTR_TOP/scripts/bootstrap.sh"
wt=$UINTR_CACHE/series-src
out=$UINTR_CACHE/series-build
off=$UINTR_CACHE/series-build-off
mkdir -p "$out" "$off"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Kept between runs: going back to the pristine tree rewrites only the
# files the series changes, so the build trees stay mostly valid.  What
# an interrupted run left (a lock, half-applied files) goes.
if [ -f "$wt/.git" ]; then
	git -C "$wt" am --abort > /dev/null 2>&1 || true
	rm -f "$(git -C "$wt" rev-parse --git-dir)/index.lock"
	git -C "$wt" reset -q --hard pristine
	git -C "$wt" clean -q -fdx
else
	rm -rf "$wt"
	git -C "$KSRC" worktree prune
	git -C "$KSRC" worktree add -q --detach "$wt" pristine
fi

# A guest that only says it booted, and ends: QEMU runs with -no-reboot.
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc"
cp "$(command -v busybox)" "$work/root/bin/busybox"
printf '%s\n' '#!/bin/busybox sh' \
	'/bin/busybox mount -t proc proc /proc' \
	'echo "series-boot: $(/bin/busybox uname -r)"' \
	'/bin/busybox reboot -f' > "$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"

# Whether the tree has the series' option yet.
has_option()
{
	grep -q "^config X86_USER_INTERRUPTS$" "$wt/arch/x86/Kconfig"
}

# Configures build tree $1 from the fragment, with UINTR as $2 says (y or
# n) once the option exists, and checks that every line of the fragment
# and the UINTR setting stuck.
configure()
{
	local dir=$1 uintr=$2 line
	make -s -C "$wt" O="$dir" "${KMAKE_VARS[@]}" tinyconfig > /dev/null
	"$wt/scripts/kconfig/merge_config.sh" -m -O "$dir" "$dir/.config" \
		"$UINTR_TOP/scripts/kernel-series.config" > /dev/null
	if has_option; then
		if [ "$uintr" = y ]; then
			"$wt/scripts/config" --file "$dir/.config" -e X86_USER_INTERRUPTS \
				-e X86_USER_INTERRUPTS_KUNIT_TEST
		else
			"$wt/scripts/config" --file "$dir/.config" -d X86_USER_INTERRUPTS
		fi
	fi
	make -s -C "$wt" O="$dir" "${KMAKE_VARS[@]}" olddefconfig > "$work/config.log" 2>&1 ||
		{ cat "$work/config.log" >&2; die "$dir: the configuration failed"; }
	if grep -i -q "warning" "$work/config.log"; then
		cat "$work/config.log" >&2
		die "$dir: the configuration warns"
	fi
	while read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$dir/.config" || die "$dir: $line did not stick"
	done < "$UINTR_TOP/scripts/kernel-series.config"
	if has_option && [ "$uintr" = y ]; then
		grep -qx "CONFIG_X86_USER_INTERRUPTS=y" "$dir/.config" ||
			die "$dir: UINTR cannot be enabled"
	elif grep -q "^CONFIG_X86_USER_INTERRUPTS=y" "$dir/.config"; then
		die "$dir: UINTR cannot be disabled"
	fi
}

# Builds tree $1 ($2 names the step in messages); no warning of any kind.
build()
{
	local dir=$1 what=$2
	make -s -C "$wt" O="$dir" "${KMAKE_VARS[@]}" -j"$JOBS" bzImage > "$work/build.log" 2>&1 ||
		{ tail -30 "$work/build.log" >&2; die "$what does not build"; }
	if grep -i -q "warning" "$work/build.log"; then
		grep -i "warning" "$work/build.log" >&2
		die "$what builds with warnings"
	fi
}

splat="WARNING:|BUG:|Oops|Call Trace|Kernel panic|UBSAN|KASAN"
n=0
for p in "$UINTR_TOP"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	case "${p##*/}" in 0000-cover-letter.patch) continue ;; esac
	n=$((n + 1))
	git -C "$wt" -c user.name=uintr -c user.email=uintr@localhost \
		am -q --whitespace=nowarn "$p" || die "patch $n does not apply: ${p##*/}"
	# checkpatch exits 1 for findings; anything else means it did not run.
	if cp_out=$(perl "$wt/scripts/checkpatch.pl" --strict --no-tree -q --terse "$p"); then
		cp_rc=0
	else
		cp_rc=$?
	fi
	[ "$cp_rc" -le 1 ] || die "checkpatch did not run on patch $n"
	checks=$(printf '%s\n' "$cp_out" | grep -E ": (ERROR|WARNING|CHECK):" || true)
	configure "$out" y
	log "patch $n: building"
	build "$out" "patch $n (${p##*/})"
	"$UINTR_TOP/scripts/run-qemu.sh" --kernel "$out/arch/x86/boot/bzImage" \
		--initrd "$work/initrd.cpio" --log "$work/boot.log" --cpus 1 --timeout 120 > /dev/null ||
		die "patch $n: the guest did not end itself"
	grep -q "series-boot:" "$work/boot.log" || die "patch $n does not boot: ${p##*/}"
	if grep -E -q "$splat" "$work/boot.log"; then
		grep -E "$splat" "$work/boot.log" >&2
		die "patch $n: the boot log has a splat"
	fi
	# From the patch that adds it on, the series' KUnit suite runs at boot.
	if grep -q "^CONFIG_X86_USER_INTERRUPTS_KUNIT_TEST=y" "$out/.config"; then
		tr -d '\r' < "$work/boot.log" | grep -E -q "^ok [0-9]+ x86_uintr_hooks$" || {
			grep -E "not ok|Expected|x86_uintr_hooks" "$work/boot.log" >&2
			die "patch $n: the KUnit suite x86_uintr_hooks did not pass"
		}
	fi
	uintr=$(grep -c "^CONFIG_X86_USER_INTERRUPTS=y" "$out/.config" || true)
	echo "patch $n ok (UINTR config: $uintr, checkpatch: $(printf '%s' "$checks" | grep -c . || true) findings): ${p##*/}"
	[ -z "$checks" ] || printf '%s\n' "$checks" | sed "s|^$UINTR_TOP/patches/||; s/^/    /"
done

# The option defaults to n: what the series compiles out must build too.
configure "$off" n
log "the series with CONFIG_X86_USER_INTERRUPTS=n: building"
build "$off" "the series with CONFIG_X86_USER_INTERRUPTS=n"
echo "series: $n patches, each applies, builds without warnings and boots;" \
	"the whole series also builds with UINTR off"
