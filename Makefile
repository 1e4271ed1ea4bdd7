# SPDX-License-Identifier: GPL-2.0
#
# Entry points.  "make" builds the module against the cached test kernel;
# "make demo" and "make check" are the two commands of the README.

UINTR_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/uintr
KDIR ?= $(UINTR_CACHE)/linux-build
BINDGEN ?= $(UINTR_CACHE)/bindgen/bin/bindgen
# The same toolchain as the kernel build (see scripts/lib.sh).
KMAKE := $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=-19 RUSTC=/usr/bin/rustc \
	RUSTDOC=/usr/bin/rustdoc BINDGEN=$(BINDGEN) RUSTFMT=/usr/bin/rustfmt \
	CLIPPY_DRIVER=/usr/bin/clippy-driver

.PHONY: all modules clippy rustfmt rustfmtcheck clean demo check

all: modules

modules:
	$(KMAKE) modules

clippy:
	$(KMAKE) CLIPPY=1 modules

rustfmt:
	/usr/bin/rustfmt --edition 2021 uintr_mod.rs

rustfmtcheck:
	/usr/bin/rustfmt --edition 2021 --check uintr_mod.rs

clean:
	$(KMAKE) clean

demo:
	scripts/demo.sh

check:
	scripts/test.sh
