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

# libuintr as a user gets it: installed under a prefix, found with
# pkg-config, linked into a program that runs here (no user interrupts:
# every call must fail with an errno, nothing may abort).
rc=0
{
	make -s -C "$UINTR_TOP/lib" OUTPUT="$work/lib" PREFIX="$work/prefix" install &&
	cat > "$work/libuser.c" <<'CPROG'
#include <errno.h>
#include <stdio.h>
#include <uintr.h>

int main(void)
{
	if (uintr_register_receiver(NULL, 0) == 0 || errno == 0)
		return 1;
	if (uintr_set_handler(64, NULL) == 0 || errno != EINVAL)
		return 2;
	return 0;
}
CPROG
	PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" &&
	export PKG_CONFIG_PATH &&
	gcc -Wall -Werror -o "$work/libuser" "$work/libuser.c" \
		$(pkg-config --cflags --libs uintr) &&
	"$work/libuser"
} > "$work/lib.log" 2>&1 || rc=$?
result "libuintr: make install, pkg-config, link and run a program" $rc
[ $rc -eq 0 ] || tail -40 "$work/lib.log"

# The man pages: each renders without a warning, and their ERRORS
# sections say what Documentation/uapi.md says.
rc=0
for page in "$UINTR_TOP"/man/man*/*; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null |
		sed "s|^|${page##*/}: |"
done > "$work/man.log" 2>&1
[ -s "$work/man.log" ] && rc=1
python3 "$UINTR_TOP/scripts/check-man.py" "$UINTR_TOP" >> "$work/man.log" 2>&1 || rc=$?
result "man pages render cleanly and match uapi.md's errors" $rc
[ $rc -eq 0 ] || head -40 "$work/man.log"

# The uintr crate: clippy clean, its unit and doc tests (no user
# interrupts here; tests/ in the emulated machine run the rest).
rc=0
(cd "$UINTR_TOP/crates/uintr" &&
	CARGO_TARGET_DIR="$UINTR_CACHE/crate-target" cargo clippy -q --locked --all-targets -- -D warnings) \
	> "$work/crate.log" 2>&1 || rc=$?
result "uintr crate: clippy -D warnings" $rc
[ $rc -eq 0 ] || head -40 "$work/crate.log"
rc=0
(cd "$UINTR_TOP/crates/uintr" && cargo fmt --check) > "$work/crate.log" 2>&1 || rc=$?
result "uintr crate: rustfmt" $rc
[ $rc -eq 0 ] || head -40 "$work/crate.log"
rc=0
(cd "$UINTR_TOP/crates/uintr" &&
	CARGO_TARGET_DIR="$UINTR_CACHE/crate-target" cargo test --locked) > "$work/crate.log" 2>&1 || rc=$?
tests=0
while read -r status name; do
	tests=$((tests + 1))
	result "uintr crate: $name" "$([ "$status" = ok ] && echo 0 || echo 1)"
done < <(sed -n 's/^test \(.*\) \.\.\. \(ok\|FAILED\)$/\2 \1/p' "$work/crate.log")
if [ $rc -ne 0 ] || [ $tests -eq 0 ]; then
	[ $tests -ne 0 ] || result "uintr crate: cargo test runs" 1
	tail -40 "$work/crate.log"
fi

# Every C and Rust example in README.md, Documentation/ and the man pages
# builds as a complete program; excerpts match the source they quote.
rc=0
{
	make -s -C "$UINTR_TOP/lib" OUTPUT="$work/exlib" &&
	(cd "$UINTR_TOP/crates/uintr" && CARGO_TARGET_DIR="$UINTR_CACHE/crate-target" cargo build -q --locked) &&
	python3 "$UINTR_TOP/scripts/check-examples.py" "$UINTR_TOP" "$work/exlib/libuintr.a" \
		"$UINTR_CACHE/crate-target/debug/libuintr.rlib" "$UINTR_CACHE/crate-target/debug/deps"
} > "$work/examples.log" 2>&1 || rc=$?
result "examples in README.md, Documentation/ and man pages build ($(sed -n 's/ examples checked//p' "$work/examples.log") blocks)" $rc
[ $rc -eq 0 ] || tail -40 "$work/examples.log"

# The module's imports run one way: no circle between its top-level
# modules (syscalls -> state objects -> logic/hw; fpu_hooks -> state objects).
rc=0
python3 "$UINTR_TOP/scripts/check-imports.py" "$UINTR_TOP" > "$work/imports.log" 2>&1 || rc=$?
result "the module's imports form no circle" $rc
[ $rc -eq 0 ] || cat "$work/imports.log"

# The cover letter counts the series' code lines as scripts/series-size.py
# does, patch by patch.
rc=0
python3 "$UINTR_TOP/scripts/series-size.py" --check-cover > "$work/size.log" 2>&1 || rc=$?
result "cover letter: code lines per patch as counted ($(sed -n 's/^ *\([0-9]*\)  total$/\1/p' "$work/size.log"))" $rc
[ $rc -eq 0 ] || cat "$work/size.log"

# uintr_shim.c checks the kernel's vectors and component layout against
# literals at build time: they must be the values the Rust side uses.
rc=0
for v in NOTIFICATION KERNEL; do
	rs=$(sed -n "s/^pub(crate) const ${v}_VECTOR: u8 = \(0x[0-9a-f]*\);/\1/p" "$UINTR_TOP/hw/vectors.rs")
	grep -q "^static_assert(UINTR_${v}_VECTOR == ${rs:-none});" "$UINTR_TOP/uintr_shim.c" || rc=1
done
result "uintr_shim.c checks the vectors hw/vectors.rs uses" $rc

# check-log.sh counts KUnit cases from the kernel log and fails a run whose
# required suite did not report, or failed.
rc=0
printf '%s\n' '[    1.0] KTAP version 1' '[    1.1]     ok 1 a' \
	'[    1.2]     ok 2 b # SKIP no' '[    1.3] ok 1 s' 'uintr-guest: end' > "$work/k1.log"
[ "$(KUNIT_SUITES=s "$UINTR_TOP/scripts/check-log.sh" "$work/k1.log" k)" = "k: 1 passed, 0 failed, 1 skipped" ] || rc=1
KUNIT_SUITES="s t" "$UINTR_TOP/scripts/check-log.sh" "$work/k1.log" k > /dev/null && rc=1
# The dump of the kernel log by /init does not count twice.
printf '%s\n' 'uintr-guest: dmesg begin' '[    1.1]     ok 1 a' '[    1.3] ok 1 s' 'uintr-guest: dmesg end' >> "$work/k1.log"
[ "$(KUNIT_SUITES=s "$UINTR_TOP/scripts/check-log.sh" "$work/k1.log" k)" = "k: 1 passed, 0 failed, 1 skipped" ] || rc=1
printf '%s\n' 'uintr-guest: dmesg begin' '[    1.2]     not ok 3 c' 'uintr-guest: dmesg end' >> "$work/k1.log"
KUNIT_SUITES=s "$UINTR_TOP/scripts/check-log.sh" "$work/k1.log" k > /dev/null && rc=1
printf '%s\n' '[    1.3] ok 1 s # SKIP no UINTR' 'uintr-guest: end' > "$work/k3.log"
KUNIT_SUITES=s "$UINTR_TOP/scripts/check-log.sh" "$work/k3.log" k > /dev/null && rc=1
printf '%s\n' '[    1.1]     not ok 1 a' '[    1.3] not ok 1 s' 'uintr-guest: end' > "$work/k2.log"
KUNIT_SUITES=s "$UINTR_TOP/scripts/check-log.sh" "$work/k2.log" k > /dev/null && rc=1
result "check-log.sh: KUnit cases count, a missing or failed suite fails" $rc

# check-log.sh shows a timed check that passed on its second run.
printf '%s\n' '# timed: t failed once' 'ok 1 guest: t' 'uintr-guest: end' > "$work/t1.log"
rc=0
[ "$(KUNIT_SUITES= "$UINTR_TOP/scripts/check-log.sh" "$work/t1.log" k)" = "$(printf '%s\n' \
	'k: 1 passed, 0 failed, 0 skipped' 'k timed checks run twice:' '  t failed once')" ] || rc=1
result "check-log.sh: a timed check run twice is shown" $rc

# The guest's timed checks: a check that fails once runs once more and the
# second run decides; a failure names the task that took the CPU; a process
# left behind is found.  In a PID namespace, where the shell is PID 1 as
# /init is in the guest.
sed -n '/^result()/,/^uintr_cpu=no/p' "$UINTR_TOP/scripts/guest-init" > "$work/gi.sh"
cat > "$work/gi-test.sh" << 'SH'
. "$1/gi.sh"
settle() { :; }
n=0
timed flaky sh -c "[ -e $1/once ] || { touch $1/once; exit 3; }"
timed broken sh -c "[ -e $1/twice ] || { touch $1/twice; exit 1; }"
timed slow sh -c 'exit 3'
sh -c 'while :; do :; done' &
hog=$!
timed busy sh -c 'sleep 0.5; exit 1'
kill $hog
wait $hog
strays > "$1/strays"
echo "strays: [$(cat "$1/strays")]"
sleep 30 &
until read -r c < /proc/$!/comm && [ "$c" = sleep ]; do :; done
strays
kill $!
SH
TMPDIR=$work unshare -fp --mount-proc busybox sh "$work/gi-test.sh" "$work" > "$work/gi.log" 2>&1 || true
rc=0
grep -qx 'ok 1 guest: flaky' "$work/gi.log" || rc=1
grep -qx '# timed: flaky failed once' "$work/gi.log" || rc=1
grep -qx 'not ok 2 guest: broken' "$work/gi.log" || rc=1
grep -q '# timed: broken' "$work/gi.log" && rc=1
grep -qx 'not ok 3 guest: slow' "$work/gi.log" || rc=1
grep -qx 'not ok 4 guest: busy' "$work/gi.log" || rc=1
grep -q '^# cpu: ticks user [0-9]* system [0-9]* idle [0-9]* irq [0-9]* softirq [0-9]*$' "$work/gi.log" || rc=1
grep -q '^# cpu: [0-9]* ticks sh (pid [0-9]*)$' "$work/gi.log" || rc=1
grep -qx 'strays: \[\]' "$work/gi.log" || rc=1
grep -q '^[0-9]* ppid 1 sleep state [RS]$' "$work/gi.log" || rc=1
[ $rc -eq 0 ] || sed 's/^/# /' "$work/gi.log"
result "guest-init: a timing failure runs twice, others once; what took the CPU is named; strays are found" $rc

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
