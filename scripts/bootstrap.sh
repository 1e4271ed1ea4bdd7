#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the project needs on a Debian 12 machine, idempotently:
# the system packages, bindgen, and the pinned Linux source unpacked into a
# git tree in the cache.  Safe to run again; it only does what is missing.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

SYSTEM_PACKAGES=(
	rustc-web rust-web-src libstd-rust-web-dev rustfmt-web rust-web-clippy
	clang-19 lld-19 llvm-19 libclang-19-dev
	build-essential libelf-dev libssl-dev flex bison bc cpio kmod xz-utils
	dpkg-dev git python3 busybox-static qemu-system-x86
	xorriso isolinux syslinux syslinux-common bochsbios vgabios
	python3-matplotlib pkgconf zstd
)
BINDGEN_VERSION=0.71.1
# The kernel's minimum Rust version for the pinned series.
RUSTC_MIN=1.85.0

install_system_packages()
{
	local missing=() p
	for p in "${SYSTEM_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "installing ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || die "installing packages needs root"
	apt-get -q update >&2
	# rustc-web, rust-web-src and libstd-rust-web-dev must be one version;
	# apt picks the current one for all three.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

check_rustc()
{
	local v
	v=$(/usr/bin/rustc --version | awk '{ print $2 }')
	dpkg --compare-versions "$v" ge "$RUSTC_MIN" ||
		die "rustc $v is older than the kernel's minimum $RUSTC_MIN"
}

install_bindgen()
{
	if [ -x "$BINDGEN" ] && "$BINDGEN" --version | grep -q " $BINDGEN_VERSION\$"; then
		return
	fi
	log "building bindgen-cli $BINDGEN_VERSION"
	cargo install -q bindgen-cli --version "$BINDGEN_VERSION" --locked \
		--root "$UINTR_CACHE/bindgen" >&2
}

# Print the newest linux-source-$KERNEL_SERIES version in the private
# suites, or fail naming what is there.
pick_kernel_package()
{
	local v
	v=$(private_apt_cache_versions "linux-source-$KERNEL_SERIES" | sort -V | tail -n1)
	if [ -z "$v" ]; then
		echo "available kernel source series:" >&2
		private_apt_cache_search >&2
		die "linux-source-$KERNEL_SERIES is in none of: $KERNEL_SUITES"
	fi
	echo "$v"
}

private_apt_cache_versions()
{
	apt-cache -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" madison "$1" 2>/dev/null | awk '{ print $3 }' | sort -u
}

private_apt_cache_search()
{
	apt-cache -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" pkgnames linux-source- 2>/dev/null | sort -u
}

private_apt_sha256()
{
	apt-cache -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" show "$1=$2" 2>/dev/null |
		awk '/^SHA256:/ { print $2; exit }'
}

fetch_kernel_source()
{
	local ver deb sum want upstream
	[ -f "$UINTR_CACHE/linux.pristine" ] && return
	private_apt_setup
	ver=$(pick_kernel_package)
	deb=$(ls "$UINTR_CACHE"/debs/linux-source-"${KERNEL_SERIES}"_"${ver//:/%3a}"_all.deb 2>/dev/null || true)
	if [ -z "$deb" ]; then
		log "downloading linux-source-$KERNEL_SERIES $ver"
		mkdir -p "$UINTR_CACHE/debs"
		(cd "$UINTR_CACHE/debs" && private_apt -q download "linux-source-$KERNEL_SERIES=$ver" >&2)
		deb=$(ls "$UINTR_CACHE"/debs/linux-source-"${KERNEL_SERIES}"_*_all.deb | tail -n1)
	fi
	want=$(private_apt_sha256 "linux-source-$KERNEL_SERIES" "$ver")
	sum=$(sha256sum "$deb" | awk '{ print $1 }')
	[ "$sum" = "$want" ] || die "$deb: sha256 $sum does not match the index ($want)"
	log "unpacking $(basename "$deb")"
	rm -rf "$KSRC" "$UINTR_CACHE/unpack"
	mkdir -p "$UINTR_CACHE/unpack"
	dpkg -x "$deb" "$UINTR_CACHE/unpack"
	tar -C "$UINTR_CACHE/unpack" -xf "$UINTR_CACHE/unpack/usr/src/linux-source-$KERNEL_SERIES.tar.xz"
	mv "$UINTR_CACHE/unpack/linux-source-$KERNEL_SERIES" "$KSRC"
	rm -rf "$UINTR_CACHE/unpack"
	upstream=$(make -s -C "$KSRC" kernelversion)
	log "kernel source $upstream"
	# A git tree so that patches/ is applied with git am and re-applied
	# when it changes without touching unrelated files.
	git -C "$KSRC" init -q
	git -C "$KSRC" add -A -f .
	git -C "$KSRC" -c user.name=uintr -c user.email=uintr@localhost \
		commit -q -m "Linux $upstream (Debian linux-source-$KERNEL_SERIES $ver)"
	git -C "$KSRC" tag pristine
	echo "$upstream $ver" > "$UINTR_CACHE/linux.pristine"
}

install_system_packages
check_rustc
install_bindgen
fetch_kernel_source
log "bootstrap complete"
