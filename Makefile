# SPDX-License-Identifier: GPL-2.0
#
# Entry points.  "make" builds the module against the cached test kernel;
# "make demo" and "make check" are the two commands of the README.
# VARIANT=kasan builds it against the kasan test kernel instead.  Objects
# go to build/$(VARIANT)/ (Kbuild's MO=), one directory per kernel.

UINTR_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/uintr
VARIANT ?= default
KDIR ?= $(UINTR_CACHE)/linux-build$(if $(filter-out default,$(VARIANT)),-$(VARIANT))
MO ?= $(CURDIR)/build/$(VARIANT)
BINDGEN ?= $(UINTR_CACHE)/bindgen/bin/bindgen
# The same toolchain as the kernel build (see scripts/lib.sh).
KMAKE := $(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(MO) LLVM=-19 RUSTC=/usr/bin/rustc \
	RUSTDOC=/usr/bin/rustdoc BINDGEN=$(BINDGEN) RUSTFMT=/usr/bin/rustfmt \
	CLIPPY_DRIVER=/usr/bin/clippy-driver

.PHONY: all modules clippy rustfmt rustfmtcheck clean demo check

all: modules

modules:
	@mkdir -p $(MO)
	$(KMAKE) modules

clippy:
	@mkdir -p $(MO)
	$(KMAKE) CLIPPY=1 modules

rustfmt:
	/usr/bin/rustfmt --edition 2021 uintr_mod.rs

rustfmtcheck:
	/usr/bin/rustfmt --edition 2021 --check uintr_mod.rs

# The objects of $(VARIANT).
clean:
	rm -rf $(MO)

demo:
	scripts/demo.sh

check:
	scripts/test.sh
