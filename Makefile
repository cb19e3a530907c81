# cnilab: build, test, demo and benchmark targets. Run `make help` for the list.

CARGO ?= cargo
# Cargo builds under CARGO_TARGET_DIR when it is set, so the binaries are looked for there.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE_BIN := $(TARGET_DIR)/release/cnilab
DEBUG_BIN := $(TARGET_DIR)/debug/cnilab
# `make install` puts cnilab where sudo's secure_path finds it (see the README's Install).
PREFIX ?= /usr/local

# The labs need root. Build as whoever runs make; only the binaries that touch the kernel run
# as root, through cargo's runner hook, so `make test` works for a user with sudo as well.
ifeq ($(shell id -u),0)
SUDO :=
else
SUDO := sudo -E
endif
HOST_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
ifneq ($(SUDO),)
export CARGO_TARGET_$(HOST_TRIPLE)_RUNNER := $(SUDO)
endif

.PHONY: help build install test test-unit test-vm test-vm-here demo bench soak topologies lint fmt actionlint deps deps-test-tools deps-test clean

help:
	@echo "make demo        gen, deploy and verify host-gw and vxlan labs on the built-in runtime"
	@echo "make install     build, then install cnilab as $(PREFIX)/bin/cnilab (sudo finds it there)"
	@echo "make test        unit, CLI and end-to-end tests, then the IPIP, kernel-WireGuard and IPsec tests in a VM, and actionlint"
	@echo "make test-unit   only the tests that run on this kernel"
	@echo "make test-vm     the IPIP, kernel-WireGuard and IPsec tests inside a stock Debian kernel (virtme-ng)"
	@echo "make test-vm-here  the same tests on this machine's kernel, which must have ipip, netem, wireguard and esp"
	@echo "make bench       speed figures for gen, deploy and verify"
	@echo "make soak        cold verifies of healthy 10-host labs under CPU load: 0 false fails is the bar"
	@echo "make topologies  refresh the rendered examples in topologies/"
	@echo "make lint        cargo fmt --check, clippy and cargo doc, all without warnings"

build:
	$(CARGO) build --release

install: build
	$(SUDO) install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/cnilab

deps:
	@scripts/install-deps.sh

deps-test-tools:
	@scripts/install-deps.sh --test-tools

deps-test:
	@scripts/install-deps.sh --test

test: deps-test lint test-unit test-vm actionlint

test-unit:
	$(CARGO) test --all-targets

# The test files whose ignored tests need a kernel feature this machine's lacks (IPIP, netem,
# kernel WireGuard, ESP). The one list: make test-vm runs them in a VM, make test-vm-here
# (GitHub's runners, whose kernel has them all) on the machine itself, and tests/ci_workflow.rs
# checks that every such test file is in it.
VM_TESTS := runtime_ipip verify_ipip trace_ipip bench_ipip flavors_ipip verify_pcap routed_ipip encryption_wireguard services_ipip encryption_ipsec bench_ipsec
VM_TEST_ARGS := $(addprefix --test ,$(VM_TESTS)) -- --ignored --test-threads=1

# cargo itself crawls under software emulation: build the tests here, run the binaries there.
# Every IPIP test runs in one VM under software emulation: on a busy machine that takes a
# while, so the VM gets 40 minutes unless CNILAB_VM_TIMEOUT says otherwise.
test-vm: deps-test
	CNILAB_VM_TIMEOUT=$${CNILAB_VM_TIMEOUT:-2400} scripts/cargo-test-in-vm.sh $(VM_TEST_ARGS)

test-vm-here:
	$(CARGO) test $(VM_TEST_ARGS)

# The workflows (with shellcheck on their run: scripts), the project's own scripts and the
# tests' stand-ins.
actionlint: deps-test-tools
	scripts/actionlint.sh
	shellcheck .ci/run scripts/*.sh bench/*.sh tests/fixtures/fake-containerlab tests/fixtures/fake-docker tests/fixtures/no-ipip/*

demo: deps build
	$(SUDO) scripts/demo.sh $(RELEASE_BIN)

bench: deps build
	$(SUDO) bench/run.sh $(RELEASE_BIN)

# Not part of `make test`: it takes minutes and loads the machine on purpose. SOAK_RUNS (default
# 5) verifies per mode, SOAK_HOSTS (default 10) hosts per lab.
soak: deps build
	$(SUDO) scripts/soak.sh $(RELEASE_BIN)

topologies:
	$(CARGO) build
	$(DEBUG_BIN) gen --mode host-gw --hosts 2 -o topologies/host-gw-2.yaml
	$(DEBUG_BIN) gen --mode vxlan --hosts 2 -o topologies/vxlan-2.yaml
	$(DEBUG_BIN) gen --mode ipip --hosts 3 -o topologies/ipip-3.yaml
	$(DEBUG_BIN) gen --mode vxlan --hosts 4 -o topologies/vxlan-4.yaml
	$(DEBUG_BIN) gen --mode host-gw --flavor flannel --hosts 2 -o topologies/host-gw-flannel-2.yaml
	$(DEBUG_BIN) gen --mode vxlan --flavor flannel --hosts 2 -o topologies/vxlan-flannel-2.yaml
	$(DEBUG_BIN) gen --mode vxlan --flavor calico --hosts 2 -o topologies/vxlan-calico-2.yaml
	$(DEBUG_BIN) gen --mode vxlan --flavor cilium --hosts 2 -o topologies/vxlan-cilium-2.yaml
	$(DEBUG_BIN) gen --mode ipip --flavor calico --hosts 2 -o topologies/ipip-calico-2.yaml

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet
	scripts/check-duplicate-deps.sh

fmt:
	$(CARGO) fmt

clean:
	$(CARGO) clean
