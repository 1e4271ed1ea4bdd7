#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the emulated Sapphire Rapids: Debian's Bochs 3.0 source plus the
# project's fixes in emulator/patches/, configured for nogui, SMP and every
# ISA extension the sapphire_rapids CPU model enables (UINTR included).
#
# The result is installed under $UINTR_CACHE/bochs/<key>/, where <key> is a
# hash of the source tarball, the patch series and the configure options:
# a changed patch rebuilds, an unchanged series reuses the cached build.
# --unpatched builds the plain 3.0 release into its own directory (the
# conformance suite runs against both).
#
# Usage: build-bochs.sh [--unpatched]
# Prints the path of the bochs binary on stdout; progress goes to stderr.

set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

# Upstream release the patch series is written against.
BOCHS_UPSTREAM=3.0
PATCH_DIR=$UINTR_TOP/emulator/patches
SRC_CACHE=$BOCHS_DIR/src

CONFIGURE_OPTS=(
	--with-nogui --disable-plugins
	--enable-x86-64 --enable-smp --enable-cpu-level=6
	--enable-avx --enable-evex --enable-amx --enable-cet --enable-uintr
	--enable-protection-keys --enable-vmx=2 --enable-monitor-mwait
	--enable-pci --enable-a20-pin
	# Speed: repeat speedups, fast calls, handler chaining, trace linking.
	--enable-all-optimizations
	# Nothing the pipeline uses; leaving them out shortens the build.
	--disable-debugger --disable-debugger-gui --disable-gdb-stub
	--disable-readline --disable-docbook --disable-stats
	# The IPS display logs from a SIGALRM handler: a deadlock when the
	# alarm interrupts the logger (seen as a hung run).
	--disable-show-ips
	--disable-usb --disable-ne2000 --disable-sb16 --disable-es1370
	--disable-voodoo --disable-gameport --disable-busmouse
)
BUILD_CFLAGS="-O2 -pipe"

usage()
{
	echo "usage: $0 [--unpatched]" >&2
	exit 2
}

unpatched=0
while [ $# -gt 0 ]; do
	case "$1" in
	--unpatched) unpatched=1 ;;
	-h|--help) usage ;;
	*) usage ;;
	esac
	shift
done

# Print "version sha256 size filename" for each tarball (orig and debian)
# of the first bochs $BOCHS_UPSTREAM in the trixie Sources index of the
# private apt lists.
sources_entries()
{
	local index=("$APT_DIR"/lists/*_dists_trixie_main_source_Sources*)
	[ -f "${index[0]}" ] || die "no trixie Sources index in $APT_DIR/lists"
	/usr/lib/apt/apt-helper cat-file "${index[0]}" | awk -v want="$BOCHS_UPSTREAM" '
		/^Package: / { pkg = $2; ver = ""; insum = 0; next }
		pkg != "bochs" { next }
		/^Version: / {
			ver = $2; up = ver
			sub(/^[0-9]+:/, "", up); sub(/[+~-].*/, "", up)
			next
		}
		/^Checksums-Sha256:/ { insum = 1; next }
		/^[^ ]/ { insum = 0 }
		insum && up == want && (chosen == "" || chosen == ver) && $3 ~ /\.tar\./ {
			chosen = ver; print ver, $1, $2, $3
		}'
}

# Download (once) and verify the tarballs; print "orig-path orig-sha256".
fetch_source()
{
	local entries ver sum size file have orig= orig_sum=
	private_apt_setup
	entries=$(sources_entries)
	[ -n "$entries" ] || die "bochs $BOCHS_UPSTREAM is not in the trixie Sources index"
	mkdir -p "$SRC_CACHE"
	while read -r ver sum size file; do
		[ -f "$SRC_CACHE/$file" ] && continue
		log "downloading bochs $ver source"
		# The .dsc may be refused; the orig and debian tarballs arrive.
		(cd "$SRC_CACHE" && private_apt -q source --download-only "bochs=$ver" >&2) || true
		break
	done <<< "$entries"
	while read -r ver sum size file; do
		[ -f "$SRC_CACHE/$file" ] || die "could not download $file"
		have=$(sha256sum "$SRC_CACHE/$file" | awk '{ print $1 }')
		if [ "$have" != "$sum" ]; then
			rm -f "$SRC_CACHE/$file"
			die "$file: sha256 $have does not match the Sources index ($sum)"
		fi
		case "$file" in
		*.orig.tar.*) orig=$SRC_CACHE/$file orig_sum=$sum ;;
		esac
	done <<< "$entries"
	[ -n "$orig" ] || die "no orig tarball for bochs $BOCHS_UPSTREAM in the Sources index"
	echo "$orig $orig_sum"
}

src_info=$(fetch_source)
read -r ORIG ORIG_SUM <<< "$src_info"

patches=()
if [ "$unpatched" -eq 0 ]; then
	for p in "$PATCH_DIR"/*.patch; do
		[ -e "$p" ] && patches+=("$p")
	done
fi

# The cache key: source, patch contents in order, configure options, flags.
key=$( {
	echo "orig $ORIG_SUM"
	echo "configure ${CONFIGURE_OPTS[*]}"
	echo "cflags $BUILD_CFLAGS"
	echo "compiler g++ $(g++ -dumpfullversion)"
	for p in ${patches[@]+"${patches[@]}"}; do
		echo "patch $(basename "$p")"
		cat "$p"
	done
} | sha256sum | cut -c1-16)
label=patched
[ "$unpatched" -eq 1 ] && label=unpatched
DEST=$BOCHS_DIR/$key

mkdir -p "$BOCHS_DIR"
exec 8> "$BOCHS_DIR/.lock-$key"
flock 8

if [ -f "$DEST/.complete" ] && [ -x "$DEST/bin/bochs" ]; then
	log "bochs ($label, $key) is up to date"
	echo "$DEST/bin/bochs"
	exit 0
fi

BUILD=$BOCHS_DIR/build-$key
rm -rf "$BUILD" "$DEST"
mkdir -p "$BUILD"
log "unpacking $(basename "$ORIG")"
tar --no-same-owner -C "$BUILD" -xf "$ORIG"
SRC=
for d in "$BUILD"/bochs*/; do
	[ -d "$d" ] && SRC=${d%/}
done
[ -n "$SRC" ] || die "the tarball has no bochs directory"

for p in ${patches[@]+"${patches[@]}"}; do
	log "applying $(basename "$p")"
	if ! patch -d "$SRC" -p1 --forward --batch --quiet < "$p" >&2; then
		die "$(basename "$p") does not apply to bochs $BOCHS_UPSTREAM"
	fi
done

start=$(date +%s)
log "configuring bochs ($label)"
(cd "$SRC" && CFLAGS="$BUILD_CFLAGS" CXXFLAGS="$BUILD_CFLAGS" \
	./configure --prefix="$DEST" "${CONFIGURE_OPTS[@]}" > "$BUILD/configure.log" 2>&1) ||
	{ tail -n 30 "$BUILD/configure.log" >&2; die "configure failed (see $BUILD/configure.log)"; }
if grep -q "unrecognized options" "$BUILD/configure.log"; then
	grep "unrecognized options" "$BUILD/configure.log" >&2
	die "configure does not know an option"
fi
log "building bochs ($label) with make -j$JOBS"
(cd "$SRC" && nice -n 10 make -j"$JOBS" > "$BUILD/make.log" 2>&1) ||
	{ tail -n 30 "$BUILD/make.log" >&2; die "make failed (see $BUILD/make.log)"; }
(cd "$SRC" && make install > "$BUILD/install.log" 2>&1) ||
	{ tail -n 30 "$BUILD/install.log" >&2; die "make install failed"; }
models=$("$DEST/bin/bochs" --help cpu 2>&1 || true)
grep -qw sapphire_rapids <<< "$models" ||
	die "the built bochs does not offer the sapphire_rapids model"
{
	echo "label $label"
	echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - start)) s"
	for p in ${patches[@]+"${patches[@]}"}; do echo "patch $(basename "$p")"; done
} > "$DEST/.complete"
rm -rf "$BUILD"
log "bochs ($label) built in $(($(date +%s) - start)) s"
echo "$DEST/bin/bochs"
