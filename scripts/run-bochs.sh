#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel and initramfs (or a multiboot test image) in the emulated
# Sapphire Rapids built by build-bochs.sh, capture the serial console, and
# return when the machine ends itself or the time limit runs out.
#
# Usage:
#   run-bochs.sh --kernel BZIMAGE --initrd INITRD --cpus N --log FILE
#                [--append "extra cmdline"] [--timeout SECS]
#   run-bochs.sh --multiboot IMAGE --cpus N --log FILE [--timeout SECS]
# Further options: --ips N (instructions per emulated second, default
# 50000000), --memory MB (default 512), --unpatched (plain Bochs 3.0),
# --bochs PATH (a given binary instead of build-bochs.sh's).
#
# COM1 goes through a FIFO into FILE and to stdout as it arrives; the
# Bochs log is kept next to it as FILE.bochs.
# Exit status: 0 the machine ended itself (shutdown port, ACPI S5 or a
# triple fault: poweroff -f and reboot -f with reboot=t), 124 time limit
# reached (Bochs killed), 3 Bochs stopped for another reason (emulator
# panic, bad configuration), 2 usage error, 1 setup failure.

set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

usage()
{
	awk '/^# Usage:/ { on = 1 } on && !/^#/ { exit } on { sub(/^# ?/, ""); print }' "$0" >&2
	exit 2
}

kernel= initrd= multiboot= cpus= append= log= timeout_s=600
ips=50000000 memory=512 unpatched=0 bochs=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?}; shift ;;
	--initrd) initrd=${2:?}; shift ;;
	--multiboot) multiboot=${2:?}; shift ;;
	--cpus) cpus=${2:?}; shift ;;
	--append) append=${2-}; shift ;;
	--log) log=${2:?}; shift ;;
	--timeout) timeout_s=${2:?}; shift ;;
	--ips) ips=${2:?}; shift ;;
	--memory) memory=${2:?}; shift ;;
	--unpatched) unpatched=1 ;;
	--bochs) bochs=${2:?}; shift ;;
	-h|--help) usage ;;
	*) echo "unknown option: $1" >&2; usage ;;
	esac
	shift
done

[ -n "$cpus" ] && [ -n "$log" ] || usage
[[ "$cpus" =~ ^[1-8]$ ]] || { echo "--cpus must be 1..8" >&2; exit 2; }
[[ "$timeout_s" =~ ^[0-9]+$ && "$ips" =~ ^[0-9]+$ && "$memory" =~ ^[0-9]+$ ]] ||
	{ echo "--timeout, --ips and --memory take numbers" >&2; exit 2; }
if [ -n "$multiboot" ]; then
	[ -z "$kernel$initrd" ] || { echo "--multiboot excludes --kernel/--initrd" >&2; exit 2; }
	[ -f "$multiboot" ] || die "$multiboot: no such file"
else
	[ -n "$kernel" ] && [ -n "$initrd" ] || usage
	[ -f "$kernel" ] || die "$kernel: no such file"
	[ -f "$initrd" ] || die "$initrd: no such file"
fi

if [ -z "$bochs" ]; then
	if [ "$unpatched" -eq 1 ]; then
		bochs=$("$UINTR_TOP/scripts/build-bochs.sh" --unpatched)
	else
		bochs=$("$UINTR_TOP/scripts/build-bochs.sh")
	fi
fi
[ -x "$bochs" ] || die "$bochs is not executable"

BIOS=/usr/share/bochs/BIOS-bochs-latest
VGABIOS=/usr/share/vgabios/vgabios.bin
SYSLINUX_BIOS=/usr/lib/syslinux/modules/bios
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
for f in "$BIOS" "$VGABIOS" "$ISOLINUX_BIN" "$SYSLINUX_BIOS/ldlinux.c32" \
	 "$SYSLINUX_BIOS/mboot.c32" "$SYSLINUX_BIOS/libcom32.c32"; do
	[ -f "$f" ] || die "$f is missing (run scripts/bootstrap.sh)"
done
command -v xorriso > /dev/null || die "xorriso is missing (run scripts/bootstrap.sh)"

# What Linux needs on this machine: serial console; no AMX tiles (the
# model lacks XFD); no LA57 and no kernel IBT (the SMM return path of the
# model rejects CR4.LA57 and CET); no page-table isolation (SENDUIPI and
# notification processing read UITT/UPID with supervisor accesses; a
# "pti=" in --append replaces it, to see the kernel refuse UINTR); the TSC
# rate, which is exactly ips; reboot by triple fault and reboot at once on
# panic, so that every way the guest ends also ends Bochs.
CMDLINE="console=ttyS0,115200 clearcpuid=amx_tile no5lvl ibt=off"
[[ " $append " == *" pti="* ]] || CMDLINE+=" pti=off"
CMDLINE+=" tsc_early_khz=$((ips / 1000)) tsc=reliable reboot=t panic=-1"
[ -n "$append" ] && CMDLINE+=" $append"

mkdir -p "$UINTR_CACHE/run"
WORK=$(mktemp -d "$UINTR_CACHE/run/bochs.XXXXXX")
bochs_pid= reader_pid=
cleanup()
{
	# timeout(1) passes the TERM on to Bochs.
	[ -n "$bochs_pid" ] && kill -TERM "$bochs_pid" 2> /dev/null || true
	exec 5>&- 2> /dev/null || true
	[ -n "$reader_pid" ] && kill "$reader_pid" 2> /dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Boot medium: an isolinux CD with the kernel and initramfs, or with
# mboot.c32 and the multiboot image.
mkdir -p "$WORK/iso/isolinux"
cp "$ISOLINUX_BIN" "$SYSLINUX_BIOS/ldlinux.c32" "$WORK/iso/isolinux/"
if [ -n "$multiboot" ]; then
	cp "$SYSLINUX_BIOS/mboot.c32" "$SYSLINUX_BIOS/libcom32.c32" "$WORK/iso/isolinux/"
	cp "$multiboot" "$WORK/iso/test.bin"
	boot_entry="KERNEL mboot.c32
  APPEND /test.bin"
else
	cp "$kernel" "$WORK/iso/bzimage"
	cp "$initrd" "$WORK/iso/initrd"
	boot_entry="KERNEL /bzimage
  INITRD /initrd
  APPEND $CMDLINE"
fi
cat > "$WORK/iso/isolinux/isolinux.cfg" <<EOF
DEFAULT boot
PROMPT 0
TIMEOUT 0
LABEL boot
  $boot_entry
EOF
xorriso -as mkisofs -quiet -o "$WORK/boot.iso" -b isolinux/isolinux.bin \
	-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	"$WORK/iso" 2> "$WORK/xorriso.log" || { cat "$WORK/xorriso.log" >&2; die "xorriso failed"; }

# COM1 -> FIFO -> log file and stdout.  Bochs opens its output file lazily
# and flushes every byte, so the FIFO sees the console as it is written.
# This script holds the FIFO open (fd 5) so that neither Bochs's open nor
# the reader's can block; closing it after Bochs is gone ends the reader.
mkfifo "$WORK/com1"
exec 5<> "$WORK/com1"
cat > "$WORK/bochsrc" <<EOF
# generated by run-bochs.sh
config_interface: textconfig
display_library: nogui
megs: $memory
cpu: model=sapphire_rapids, count=$cpus, ips=$ips, reset_on_triple_fault=0
romimage: file=$BIOS
vgaromimage: file=$VGABIOS
pci: enabled=1, chipset=i440fx
ata0-master: type=cdrom, path=$WORK/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$WORK/com1
clock: sync=none, time0=local
log: $WORK/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF

: > "$log"
# tee -p: keep writing the log even if whoever reads stdout goes away.
{ sed -u 's/\r$//' < "$WORK/com1" | tee -p "$log"; } 5>&- &
reader_pid=$!

start=$(date +%s)
set +e
timeout --kill-after=5 "$timeout_s" "$bochs" -q -f "$WORK/bochsrc" \
	< /dev/null > "$WORK/bochs.out" 2>&1 5>&- &
bochs_pid=$!
wait "$bochs_pid"
rc=$?
bochs_pid=
set -e

exec 5>&-
wait "$reader_pid" 2> /dev/null || true
reader_pid=
cat "$WORK/bochs.out" "$WORK/bochs.log" > "$log.bochs" 2> /dev/null || true
elapsed=$(($(date +%s) - start))

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	log "time limit of $timeout_s s reached: Bochs killed"
	exit 124
fi
if grep -qE "Shutdown port: shutdown requested|ACPI control: soft power off|3rd \([0-9]+\) exception with no resolution" "$log.bochs"; then
	reason=$(grep -oE "Shutdown port|ACPI control: soft power off|3rd \([0-9]+\) exception" "$log.bochs" | tail -n1)
	log "machine ended itself ($reason) after $elapsed s"
	exit 0
fi
log "Bochs stopped (status $rc) without the machine ending itself; last log lines:"
tail -n 15 "$log.bochs" >&2
exit 3
