#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel: the pinned Linux source plus patches/, configured
# from tinyconfig and scripts/kernel.config, in a build tree cached outside
# git.  Only what changed is rebuilt: patches/ is re-applied onto the
# pristine tree with git am and checked out so that unchanged files keep
# their timestamps, and the .config is replaced only when it differs.
#
# Usage: build-kernel.sh [extra make targets]

set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$UINTR_TOP/scripts/bootstrap.sh"

# One writer at a time; module builds take the lock shared.
exec 9> "$UINTR_CACHE/kernel.lock"
flock 9

# The series to apply: every numbered patch but the cover letter.
PATCH_DIR=${UINTR_PATCHES:-$UINTR_TOP/patches}
series()
{
	local p
	for p in "$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
		[ -e "$p" ] || continue
		case "${p##*/}" in 0000-cover-letter.patch) continue ;; esac
		echo "$p"
	done
}

apply_patches()
{
	local want have wt patches
	mapfile -t patches < <(series)
	want=$( (cat "${patches[@]}" < /dev/null 2>/dev/null || true) | sha256sum | awk '{ print $1 }')
	have=$(cat "$UINTR_CACHE/linux.applied" 2>/dev/null || true)
	[ "$want" = "$have" ] && git -C "$KSRC" diff --quiet HEAD && return
	log "applying ${#patches[@]} patches to $(cat "$UINTR_CACHE/linux.pristine")"
	wt=$UINTR_CACHE/linux-am
	git -C "$KSRC" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
	git -C "$KSRC" worktree prune
	git -C "$KSRC" worktree add -q --detach "$wt" pristine
	if [ ${#patches[@]} -gt 0 ]; then
		if ! git -C "$wt" -c user.name=uintr -c user.email=uintr@localhost \
			am -q --whitespace=nowarn "${patches[@]}"; then
			git -C "$wt" am --show-current-patch=diff | head -20 >&2 || true
			git -C "$wt" am --abort || true
			die "a patch in $PATCH_DIR does not apply"
		fi
	fi
	# Moving HEAD rewrites only the files that differ.
	git -C "$KSRC" checkout -q -f --detach "$(git -C "$wt" rev-parse HEAD)"
	git -C "$KSRC" worktree remove --force "$wt"
	echo "$want" > "$UINTR_CACHE/linux.applied"
}

make_config()
{
	local scratch=$UINTR_CACHE/kconfig-scratch frag=$UINTR_TOP/scripts/kernel.config
	local line opt val bad=0
	mkdir -p "$KOUT" "$scratch"
	make -s -C "$KSRC" O="$scratch" "${KMAKE_VARS[@]}" tinyconfig > /dev/null
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$scratch" "$scratch/.config" "$frag" > /dev/null
	make -s -C "$KSRC" O="$scratch" "${KMAKE_VARS[@]}" olddefconfig > /dev/null
	while read -r line; do
		case "$line" in
		CONFIG_*=*)
			opt=${line%%=*}; val=${line#*=}
			grep -qx "$opt=$val" "$scratch/.config" || { echo "config: $opt=$val did not stick" >&2; bad=1; }
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			! grep -q "^$opt=" "$scratch/.config" || { echo "config: $opt is still set" >&2; bad=1; }
			;;
		esac
	done < "$frag"
	[ $bad -eq 0 ] || die "the kernel configuration is not what scripts/kernel.config asks for"
	cmp -s "$scratch/.config" "$KOUT/.config" || cp "$scratch/.config" "$KOUT/.config"
}

apply_patches
# The configuration depends on the fragment and on the Kconfig files the
# patches change; regenerate it only when one of them changed.
cfgkey=$( (cat "$UINTR_TOP/scripts/kernel.config" "$UINTR_CACHE/linux.applied") | sha256sum | awk '{ print $1 }')
if [ ! -f "$KOUT/.config" ] || [ "$(cat "$UINTR_CACHE/linux.configured" 2>/dev/null)" != "$cfgkey" ]; then
	make_config
	echo "$cfgkey" > "$UINTR_CACHE/linux.configured"
fi
# Nothing to do when neither the source nor the configuration changed
# since the last complete build: saves the tree walk of a no-op make.
stamp=$( (git -C "$KSRC" rev-parse HEAD; cat "$KOUT/.config") | sha256sum | awk '{ print $1 }')
if [ $# -eq 0 ] && [ -f "$KOUT/arch/x86/boot/bzImage" ] &&
   [ "$(cat "$UINTR_CACHE/linux.built" 2>/dev/null)" = "$stamp" ]; then
	log "kernel up to date: $KOUT/arch/x86/boot/bzImage"
	exit 0
fi
rm -f "$UINTR_CACHE/linux.built"
kmake -s rustavailable > /dev/null || die "Rust is not available to the kernel build"
log "building the kernel"
kmake -s "${@:-all}"
grep -q '^CONFIG_RUST=y' "$KOUT/.config" || die "CONFIG_RUST got lost"
[ $# -eq 0 ] && echo "$stamp" > "$UINTR_CACHE/linux.built"
log "kernel ready: $KOUT/arch/x86/boot/bzImage"
