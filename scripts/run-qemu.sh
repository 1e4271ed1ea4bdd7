#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel and an initramfs under QEMU in TCG mode (no UINTR:
# module load, "no hardware" paths, ioctl validation).  Never uses KVM.
# Ends when the guest powers off or after the time limit.
#
# Usage: run-qemu.sh --kernel BZIMAGE --initrd INITRD --log FILE
#                    [--cpus N] [--append ARGS] [--timeout SECS]
# Exit: 0 when the guest ended itself, 124 on timeout.

set -euo pipefail

cpus=2 append="" timeout=300 kernel="" initrd="" logf=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$kernel" ] && [ -n "$initrd" ] && [ -n "$logf" ] || { echo "missing option" >&2; exit 2; }

# no5lvl, as in the emulated SPR: with "-cpu max" the kernel would use
# 5-level paging, and the kasan kernel once reported a KASAN wild-memory
# access at an LA57 direct-map address in handle_edge_irq() during
# identify_cpu(), at boot, before the module is loaded (a rare early-boot
# race outside the project).  Four-level paging is what the tests are
# about and what every emulated-SPR run uses.
#
# One host thread for all vCPUs (-accel tcg,thread=single), as the
# emulated SPR runs.  With multi-threaded TCG, the kasan kernel twice died
# early in boot, in interrupt context, long before the module was loaded
# and only while the host was busy with other stages: the wild access
# above, and once an "Oops: int3" in an interrupt during ACPI set-up
# (3.5 s into the boot).  Neither ever showed in the emulated SPR, which
# runs the same kernel with its CPUs interleaved in one thread; QEMU's
# multi-threaded TCG has known races of this kind on busy hosts.  One
# thread also lets make check count a QEMU stage as one host CPU.
set +e
timeout --foreground -k 5 "$timeout" \
	qemu-system-x86_64 -accel tcg,thread=single -cpu max -smp "$cpus" -m 512M -no-reboot \
	-display none -monitor none -serial stdio \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 oops=panic no5lvl $append" < /dev/null |
	tee "$logf"
exit "${PIPESTATUS[0]}"
