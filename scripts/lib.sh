# SPDX-License-Identifier: GPL-2.0
#
# Common settings for the build and boot scripts: where the caches live,
# which toolchain every kernel make call uses, and small helpers.
# Sourced, never executed.

UINTR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UINTR_CACHE=${UINTR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uintr}
mkdir -p "$UINTR_CACHE"

# The kernel series the project is pinned to.  Moving to another series
# is a deliberate change of these two lines (and a rebase of patches/).
KERNEL_SERIES=7.2
KERNEL_SUITES="sid forky trixie-backports"

KSRC=$UINTR_CACHE/linux
BOCHS_DIR=$UINTR_CACHE/bochs
BINDGEN=$UINTR_CACHE/bindgen/bin/bindgen

# Every make call into the kernel tree, the out-of-tree module's included,
# must use the same toolchain, or the rustup compiler gets picked up.
KMAKE_VARS=(LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	    BINDGEN="$BINDGEN" RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver)
JOBS=${JOBS:-$(nproc)}

# Test-kernel variants.  All are built from the one source tree in $KSRC
# (patches/ applied once), each from tinyconfig plus its fragments into a
# build tree of its own:
#   default  scripts/kernel.config
#   kasan    scripts/kernel.config + scripts/kernel-kasan.config (KASAN,
#            UBSAN, page-table isolation built in)
# set_variant NAME sets, for that variant:
#   KOUT       the kernel build tree
#   KSTAMP     prefix of its stamps (KSTAMP.configured, KSTAMP.built)
#   KLOCK      its lock: exclusive while the kernel builds, shared while a
#              module builds against it
#   KFRAGS     its configuration fragments, in merge order
#   MODOUT     where build-module.sh builds uintr.ko for it (Kbuild's MO=)
# The source tree has a lock of its own, SRCLOCK: exclusive while patches/
# is applied, shared while anything builds from it.  Take a variant's lock
# before the source lock.
KERNEL_VARIANTS="default kasan"
SRCLOCK=$UINTR_CACHE/linux.lock

set_variant()
{
	local suffix
	case "$1" in
	default) suffix= ;;
	kasan) suffix=-kasan ;;
	*) die "unknown kernel variant '$1' (known: $KERNEL_VARIANTS)" ;;
	esac
	VARIANT=$1
	KOUT=$UINTR_CACHE/linux-build$suffix
	KSTAMP=$UINTR_CACHE/linux$suffix
	KLOCK=$UINTR_CACHE/kernel$suffix.lock
	KFRAGS=("$UINTR_TOP/scripts/kernel.config")
	[ -z "$suffix" ] || KFRAGS+=("$UINTR_TOP/scripts/kernel$suffix.config")
	MODOUT=$UINTR_TOP/build/$VARIANT
}

log()
{
	printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die()
{
	printf 'error: %s\n' "$*" >&2
	exit 1
}

kmake()
{
	make -C "$KSRC" O="$KOUT" "${KMAKE_VARS[@]}" -j"$JOBS" "$@"
}

# Private apt configuration: the machine's own mirror, other suites, and
# never a change to the system's sources.
APT_DIR=$UINTR_CACHE/apt

apt_mirror()
{
	local uri
	uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	if [ -z "$uri" ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	fi
	[ -n "$uri" ] || die "cannot find the Debian mirror in the apt configuration"
	echo "$uri"
}

private_apt()
{
	apt-get -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" \
		-o Debug::NoLocking=1 "$@"
}

private_apt_setup()
{
	local mirror suite stamp lock new
	mirror=$(apt_mirror)
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	# Builds running side by side (the emulator runners each check the
	# emulator build) get here at once: one at a time.
	exec {lock}> "$APT_DIR/.lock"
	flock "$lock"
	new=$APT_DIR/sources.list.new.$$
	: > "$new"
	for suite in $KERNEL_SUITES trixie; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >> "$new"
	done
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >> "$new"
	if cmp -s "$new" "$APT_DIR/sources.list"; then
		rm -f "$new"
	else
		mv "$new" "$APT_DIR/sources.list"
	fi
	# Refresh the indexes at most once a day.
	stamp=$APT_DIR/updated
	if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		private_apt -q update >&2 || die "private apt update failed"
		touch "$stamp"
	fi
	exec {lock}>&-
}

# UINTR_VARIANT picks the variant for scripts without a --variant option.
set_variant "${UINTR_VARIANT:-default}"
