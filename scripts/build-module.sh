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
/usr/bin/rustfmt --edition 2021 --check uintr_mod.rs ||
	die "rustfmt: run 'make rustfmt'"
out=$(make -s KDIR="$KOUT" BINDGEN="$BINDGEN" clippy 2>&1) || { echo "$out" >&2; die "module build failed"; }
if grep -q -E '^(warning|error)' <<< "$out"; then
	echo "$out" >&2
	die "the module build is not warning-free"
fi
log "module ready: $UINTR_TOP/uintr.ko"
