#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a test kernel: the pinned Linux source plus patches/, configured
# from tinyconfig and the variant's fragments (scripts/kernel.config, plus
# scripts/kernel-kasan.config for the kasan variant), in a build tree per
# variant cached outside git.  Only what changed is rebuilt: patches/ is
# re-applied onto the pristine tree with git am and checked out so that
# unchanged files keep their timestamps, and the .config is replaced only
# when it differs.  The variants share the source tree and its patches.
#
# Usage: build-kernel.sh [--variant default|kasan] [extra make targets]
# UINTR_VARIANT gives the variant when --variant is not given.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1-}" in
--variant) set_variant "${2:?--variant needs a name}"; shift 2 ;;
--variant=*) set_variant "${1#--variant=}"; shift ;;
esac

"$UINTR_TOP/scripts/bootstrap.sh"

# One writer per build tree; module builds take its lock shared.
exec 9> "$KLOCK"
flock 9
# The source tree is shared by the variants: taken shared for the build,
# exclusive only while patches/ is applied to it.
exec 8> "$SRCLOCK"
flock -s 8

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

patches_hash()
{
	local patches
	mapfile -t patches < <(series)
	(cat "${patches[@]}" < /dev/null 2>/dev/null || true) | sha256sum | awk '{ print $1 }'
}

patches_applied()
{
	[ "$(patches_hash)" = "$(cat "$UINTR_CACHE/linux.applied" 2>/dev/null || true)" ] &&
		git -C "$KSRC" diff --quiet HEAD
}

apply_patches()
{
	local want wt patches
	patches_applied && return
	# Wait until no other build reads the tree, and look again: another
	# variant's build may have applied the same series meanwhile.
	flock 8
	if patches_applied; then
		flock -s 8
		return
	fi
	mapfile -t patches < <(series)
	want=$(patches_hash)
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
	flock -s 8
}

make_config()
{
	local scratch=$UINTR_CACHE/kconfig-scratch-$VARIANT frag line opt val bad=0
	local -A want=()
	local -a order=()
	mkdir -p "$KOUT" "$scratch"
	make -s -C "$KSRC" O="$scratch" "${KMAKE_VARS[@]}" tinyconfig > /dev/null
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$scratch" "$scratch/.config" "${KFRAGS[@]}" > /dev/null
	make -s -C "$KSRC" O="$scratch" "${KMAKE_VARS[@]}" olddefconfig > /dev/null
	# What the fragments ask for, a later fragment overriding an earlier one.
	for frag in "${KFRAGS[@]}"; do
		while read -r line; do
			case "$line" in
			CONFIG_*=*) opt=${line%%=*}; val=${line#*=} ;;
			"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; val=n ;;
			*) continue ;;
			esac
			[ -n "${want[$opt]+set}" ] || order+=("$opt")
			want[$opt]=$val
		done < "$frag"
	done
	for opt in "${order[@]}"; do
		val=${want[$opt]}
		if [ "$val" = n ]; then
			! grep -q "^$opt=" "$scratch/.config" || { echo "config: $opt is still set" >&2; bad=1; }
		else
			grep -qx "$opt=$val" "$scratch/.config" || { echo "config: $opt=$val did not stick" >&2; bad=1; }
		fi
	done
	[ $bad -eq 0 ] || die "the $VARIANT kernel configuration is not what ${KFRAGS[*]##*/} ask for"
	cmp -s "$scratch/.config" "$KOUT/.config" || cp "$scratch/.config" "$KOUT/.config"
}

apply_patches
# The configuration depends on the fragments and on the Kconfig files the
# patches change; regenerate it only when one of them changed.
cfgkey=$( (cat "${KFRAGS[@]}" "$UINTR_CACHE/linux.applied") | sha256sum | awk '{ print $1 }')
if [ ! -f "$KOUT/.config" ] || [ "$(cat "$KSTAMP.configured" 2>/dev/null)" != "$cfgkey" ]; then
	make_config
	echo "$cfgkey" > "$KSTAMP.configured"
fi
# Nothing to do when neither the source nor the configuration changed
# since the last complete build: saves the tree walk of a no-op make.
stamp=$( (git -C "$KSRC" rev-parse HEAD; cat "$KOUT/.config") | sha256sum | awk '{ print $1 }')
if [ $# -eq 0 ] && [ -f "$KOUT/arch/x86/boot/bzImage" ] &&
   [ "$(cat "$KSTAMP.built" 2>/dev/null)" = "$stamp" ]; then
	log "$VARIANT kernel up to date: $KOUT/arch/x86/boot/bzImage"
	exit 0
fi
rm -f "$KSTAMP.built"
kmake -s rustavailable > /dev/null || die "Rust is not available to the kernel build"
log "building the $VARIANT kernel"
kmake -s "${@:-all}"
grep -q '^CONFIG_RUST=y' "$KOUT/.config" || die "CONFIG_RUST got lost"
[ $# -eq 0 ] && echo "$stamp" > "$KSTAMP.built"
log "$VARIANT kernel ready: $KOUT/arch/x86/boot/bzImage"
