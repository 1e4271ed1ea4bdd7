#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build uintr.ko out of tree against a cached test kernel, with clippy,
# and fail on any compiler or clippy warning and on rustfmt differences.
# Each kernel variant has its own output directory, build/<variant>/
# (Kbuild's MO=), so that the builds for the two kernels never share an
# object and can run at the same time.
#
# Usage: build-module.sh [--variant default|kasan]
# The module is build/<variant>/uintr.ko.  UINTR_VARIANT gives the variant
# when --variant is not given.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

case "${1-}" in
--variant) set_variant "${2:?--variant needs a name}"; shift 2 ;;
--variant=*) set_variant "${1#--variant=}"; shift ;;
esac
[ $# -eq 0 ] || die "usage: build-module.sh [--variant default|kasan]"

[ -f "$KOUT/Module.symvers" ] || "$UINTR_TOP/scripts/build-kernel.sh" --variant "$VARIANT"

# The kernel's build tree and the source tree, shared (kernel builds take
# them exclusively), then this variant's output directory.
exec 9> "$KLOCK"
flock -s 9
exec 8> "$SRCLOCK"
flock -s 8
mkdir -p "$UINTR_TOP/build"
exec 7> "$UINTR_TOP/build/.$VARIANT.lock"
flock 7

cd "$UINTR_TOP"
# Kbuild refuses to build into MO= while the source directory holds an
# in-place build (modules.order); an older checkout built there.  Remove
# its products, once, whichever variant gets here first.
if [ -f modules.order ]; then
	(
		flock 6
		find . -maxdepth 1 -type f \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
			-o -name '*.mod.c' -o -name '.*.cmd' -o -name '.*.d' -o -name modules.order \
			-o -name Module.symvers -o -name .uintr-kernel \) -delete
	) 6> build/.in-place.lock
fi
# Kbuild does not rebuild every object of an external module when the
# kernel's configuration changes (uintr.mod.o kept a struct module without
# the jump-label fields, and the loader refused the module): start clean
# whenever the kernel the objects were built against is not this one.
kernel=$(cat "$KOUT/.config" "$KOUT/Module.symvers" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$MODOUT/.uintr-kernel" 2>/dev/null)" != "$kernel" ]; then
	rm -rf "$MODOUT"
	mkdir -p "$MODOUT"
	echo "$kernel" > "$MODOUT/.uintr-kernel"
fi
/usr/bin/rustfmt --edition 2021 --check uintr_mod.rs ||
	die "rustfmt: run 'make rustfmt'"
out=$(make -s VARIANT="$VARIANT" KDIR="$KOUT" MO="$MODOUT" BINDGEN="$BINDGEN" clippy 2>&1) ||
	{ echo "$out" >&2; die "module build failed ($VARIANT kernel)"; }
if grep -q -E '^(warning|error)' <<< "$out"; then
	echo "$out" >&2
	# The objects are up to date now: without this, the next build would
	# find nothing to do and report the module ready, warnings and all.
	rm -f "$MODOUT"/*.o "$MODOUT"/*.ko
	die "the module build is not warning-free ($VARIANT kernel)"
fi
log "module ready: $MODOUT/uintr.ko"
