#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the bare-metal UINTR conformance suite (emulator/conformance/) in the
# emulated Sapphire Rapids and turn its TAP output into the exit status.
#
# Usage: run-conformance.sh [--unpatched | --both] [--cpus N] [--timeout SECS]
#   (default)    patched Bochs: exit 0 only if every test passes; prints
#                "conformance: N passed, N failed" and the failed tests
#   --unpatched  plain Bochs 3.0: the tests of the fixed bugs fail there
#   --both       both builds: exit 0 only if everything passes on the
#                patched build and, on the unpatched one, every fix tag in
#                FIX_TAGS has at least one failing test (each fix is needed)
#   --cpus N     CPUs of the emulated machine (default 2: the cross-CPU
#                tests need the second one and are skipped with 1)
# The TAP logs are kept in $UINTR_CACHE/conformance/{patched,unpatched}.tap.

set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

# One tag per fix in emulator/patches/, as printed by the tests.
FIX_TAGS=(senduipi-operand uiret-frame xrstors-offsets xrstors-gp pending-reeval apic-dest)

SRC=$UINTR_TOP/emulator/conformance
OUT=$UINTR_CACHE/conformance
CFLAGS=(-m64 -O2 -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie
	-fno-stack-protector -mno-red-zone -mgeneral-regs-only -muintr
	-fno-asynchronous-unwind-tables -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror)

mode=patched cpus=2 timeout_s=300
while [ $# -gt 0 ]; do
	case "$1" in
	--unpatched) mode=unpatched ;;
	--both) mode=both ;;
	--cpus) cpus=${2:?}; shift ;;
	--timeout) timeout_s=${2:?}; shift ;;
	-h|--help) sed -n '/^# Usage:/,/^# The TAP/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	*) echo "unknown option: $1" >&2; exit 2 ;;
	esac
	shift
done

# Build the image (cached by the hash of its sources and flags).
build_image()
{
	local key dir
	key=$( { cat "$SRC"/boot.S "$SRC"/user.S "$SRC"/tests.c "$SRC"/link.ld
		 echo "${CFLAGS[*]}"; gcc -dumpfullversion; } | sha256sum | cut -c1-16)
	dir=$OUT/image-$key
	if [ ! -f "$dir/conformance.bin" ]; then
		log "building the conformance image"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		gcc "${CFLAGS[@]}" -c "$SRC/boot.S" -o "$dir.tmp/boot.o"
		gcc "${CFLAGS[@]}" -c "$SRC/user.S" -o "$dir.tmp/user.o"
		gcc "${CFLAGS[@]}" -c "$SRC/tests.c" -o "$dir.tmp/tests.o"
		ld -nostdlib -z max-page-size=4096 -z noexecstack -T "$SRC/link.ld" \
			-o "$dir.tmp/conformance.elf" \
			"$dir.tmp/boot.o" "$dir.tmp/user.o" "$dir.tmp/tests.o"
		objcopy -O binary "$dir.tmp/conformance.elf" "$dir.tmp/conformance.bin"
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir/conformance.bin"
}

# run_suite LABEL NAME [run-bochs options]: boot the image, leave the TAP
# in $OUT/LABEL.tap, print "NAME: N passed, N failed" and then the failed
# tests, return 0 if all tests passed.
run_suite()
{
	local label=$1 name=$2 tap rc planned total passed failed skipped
	shift 2
	tap=$OUT/$label.tap
	: > "$tap"
	log "running the conformance suite on the $label emulator"
	set +e
	"$UINTR_TOP/scripts/run-bochs.sh" --multiboot "$IMAGE" --cpus "$cpus" \
		--timeout "$timeout_s" --log "$tap" "$@" > /dev/null
	rc=$?
	set -e
	planned=$(awk '/^1\.\.[0-9]+$/ && !n { n = substr($0, 4) } END { print n }' "$tap")
	passed=$(grep -c '^ok ' "$tap" || true)
	failed=$(grep -c '^not ok ' "$tap" || true)
	skipped=$(grep -c '^ok .* # SKIP' "$tap" || true)
	total=$((passed + failed))
	passed=$((passed - skipped))
	if [ "$rc" -ne 0 ]; then
		echo "# $label: run-bochs.sh exited with $rc" >&2
	fi
	if [ -z "$planned" ]; then
		echo "# $label: no TAP plan in the output" >&2
		planned=0
		failed=$((failed + 1))
	elif [ "$total" -ne "$planned" ]; then
		echo "# $label: $total of $planned tests reported; the rest count as failed" >&2
		failed=$((failed + planned - total))
	fi
	echo "$name: $passed passed, $failed failed, $skipped skipped"
	grep '^not ok ' "$tap" || true
	[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$planned" -gt 0 ]
}

mkdir -p "$OUT"
# One run at a time: the TAP files and the image cache are shared.
exec 9> "$OUT/.lock"
flock 9
IMAGE=$(build_image)

case "$mode" in
patched)
	run_suite patched conformance
	;;
unpatched)
	run_suite unpatched conformance-unpatched --unpatched
	;;
both)
	# Checks: the patched run passes; each fix tag fails somewhere on the
	# unpatched run.  Untagged tests that fail there are listed: with the
	# SENDUIPI operand bug every SENDUIPI on 3.0 may read another register
	# (which one depends on earlier decodes), so other tests can fail too.
	checks_ok=0 checks_failed=0
	check() { if "$@"; then checks_ok=$((checks_ok + 1)); else checks_failed=$((checks_failed + 1)); fi; }
	tag_fails() {
		grep -q "^not ok .*\[$1\]" "$OUT/unpatched.tap" && return 0
		echo "# fix $1: no test fails without it" >&2
		return 1
	}
	list_collateral() {
		grep '^not ok ' "$OUT/unpatched.tap" | grep -v '\] # ' | sed 's/^/# also failing on 3.0: /' >&2 || true
	}
	check run_suite patched conformance-patched
	run_suite unpatched conformance-unpatched --unpatched > /dev/null || true
	for tag in "${FIX_TAGS[@]}"; do
		check tag_fails "$tag"
	done
	list_collateral
	echo "conformance: $checks_ok passed, $checks_failed failed"
	[ "$checks_failed" -eq 0 ]
	;;
esac
