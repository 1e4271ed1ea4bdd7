#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build uintr.ko out of tree against the cached test kernel, with clippy,
# and fail on any compiler or clippy warning and on rustfmt differences.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -f "$KOUT/Module.symvers" ] || "$UINTR_TOP/scripts/build-kernel.sh"

exec 9> "$UINTR_CACHE/kernel.lock"
flock -s 9

cd "$UINTR_TOP"
# Kbuild does not rebuild every object of an external module when the
# kernel's configuration changes (uintr.mod.o kept a struct module without
# the jump-label fields, and the loader refused the module): start clean
# whenever the kernel the objects were built against is not this one.
kernel=$(cat "$KOUT/.config" "$KOUT/Module.symvers" | sha256sum | cut -d' ' -f1)
if [ "$(cat .uintr-kernel 2>/dev/null)" != "$kernel" ]; then
	make -s KDIR="$KOUT" clean
	echo "$kernel" > .uintr-kernel
fi
/usr/bin/rustfmt --edition 2021 --check uintr_mod.rs ||
	die "rustfmt: run 'make rustfmt'"
out=$(make -s KDIR="$KOUT" BINDGEN="$BINDGEN" clippy 2>&1) || { echo "$out" >&2; die "module build failed"; }
if grep -q -E '^(warning|error)' <<< "$out"; then
	echo "$out" >&2
	die "the module build is not warning-free"
fi
log "module ready: $UINTR_TOP/uintr.ko"
