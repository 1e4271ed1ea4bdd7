#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The host tests: the executable model in model/ (property tests of the
# module's own hw/ and logic/ code against a model of the SDM and of
# Linux's FPU paths), the rustfmt check of the shared code, and a build of
# the shared code from a plain "mod hw; mod logic;" crate root with the
# kernel's rustc and lint set, which is how the module builds it.
#
# Prints one TAP line per check and per model test, then the line
# "host: N passed, N failed, 0 skipped"; exits non-zero if anything failed.
# The model's build stays in the cache ($UINTR_CACHE/model-target).
#
# Usage: test-host.sh
# Environment: UINTR_MODEL_CASES (random schedules, default 20000),
# UINTR_MODEL_SEED (their seed), MODEL_JOBS (build jobs, default 1).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUSTC=/usr/bin/rustc
RUSTFMT=/usr/bin/rustfmt
CLIPPY=/usr/bin/clippy-driver
export CARGO_TARGET_DIR=$UINTR_CACHE/model-target
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0 pass=0 fail=0 failed=()

# Record one TAP result: NAME, then 0 for success.
result()
{
	local name=$1 rc=$2
	n=$((n + 1))
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $name"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "not ok $n - $name"
	fi
}

# The kernel's Rust lint flags, from the kernel tree when it is there.
kernel_lint_flags()
{
	local mk=$KSRC/Makefile
	if [ -f "$mk" ]; then
		sed -n '/^export rust_common_flags/,/^$/p' "$mk" |
			grep -oE -- '-[DWA][a-z_:]+' | grep -v -- '-Wrustdoc'
	else
		printf '%s\n' -Wmissing_docs -Wrust_2018_idioms -Wunreachable_pub \
			-Dunsafe_op_in_unsafe_fn -Wclippy::all -Wclippy::cast_lossless \
			-Wclippy::as_underscore -Wclippy::ptr_as_ptr \
			-Wclippy::undocumented_unsafe_blocks
	fi
}

# rustfmt, as the kernel's rustfmtcheck runs it; it follows the mod items.
rc=0
"$RUSTFMT" --edition 2021 --check "$UINTR_TOP/hw.rs" "$UINTR_TOP/logic.rs" \
	> "$work/fmt" 2>&1 || rc=$?
result "rustfmt: hw.rs, logic.rs and their folders" $rc
[ $rc -eq 0 ] || head -40 "$work/fmt"

rc=0
"$RUSTFMT" --edition 2021 --check "$UINTR_TOP/model/src/lib.rs" > "$work/fmt" 2>&1 || rc=$?
result "rustfmt: model/" $rc
[ $rc -eq 0 ] || head -40 "$work/fmt"

# A crate root that says only "mod hw; mod logic;", next to links to the
# shared files: the nested modules resolve exactly as under uintr_mod.rs.
mkdir "$work/root"
for f in hw.rs hw logic.rs logic; do
	[ -e "$UINTR_TOP/$f" ] && ln -s "$UINTR_TOP/$f" "$work/root/$f"
done
cat > "$work/root/root.rs" <<'ROOT'
//! Stands in for the module's crate root.
#![no_std]
mod hw;
mod logic;
ROOT
mapfile -t lints < <(kernel_lint_flags)
compiler=$RUSTC
[ -x "$CLIPPY" ] && compiler=$CLIPPY
rc=0
# Nothing calls the shared code from this root, so dead code is expected.
"$compiler" --edition=2021 --crate-type lib --emit=metadata -Coverflow-checks=on \
	"${lints[@]}" -Dwarnings -Adead_code -o "$work/root/out.rmeta" \
	"$work/root/root.rs" > "$work/root.log" 2>&1 || rc=$?
result "shared code builds from a plain crate root with the kernel's lints ($(basename "$compiler"))" $rc
[ $rc -eq 0 ] || head -60 "$work/root.log"

# The model's tests, one TAP line each.
rc=0
(cd "$UINTR_TOP/model" &&
	cargo test --release --locked -j "${MODEL_JOBS:-1}" -- --test-threads 2) \
	> "$work/model.log" 2>&1 || rc=$?
tests=0
while read -r name status; do
	tests=$((tests + 1))
	result "model: $name" "$([ "$status" = ok ] && echo 0 || echo 1)"
done < <(sed -n 's/^test \(.*\) \.\.\. \(ok\|FAILED\)$/\1 \2/p' "$work/model.log")
if [ $rc -ne 0 ] || [ $tests -eq 0 ]; then
	[ $tests -ne 0 ] || result "model: cargo test runs" 1
	sed -n '/^failures:$/,/^test result/p' "$work/model.log" | head -80
	[ $tests -ne 0 ] || tail -40 "$work/model.log"
fi

echo "1..$n"
echo "host: $pass passed, $fail failed, 0 skipped"
for f in "${failed[@]}"; do
	echo "  failed: $f"
done
[ "$fail" -eq 0 ]
