# lvsdirector — build and tests.
#
#   make build    binaries of ./cmd/... into build/
#   make unit     vet, gofmt check, go test -race, short fuzz runs
#   make e2e      end-to-end tests in a VM with real IPVS (test/e2e/t_*.sh)
#   make test     deps + unit + e2e: everything; what CI runs (.ci/run)
#   make demo     the pair in the VM, from the package (test/e2e/demo.sh)
#   make bench    test/e2e/bench_*.sh in the VM (print figures; assert nothing on speed)
#   make faults   test/e2e/faults_*.sh in the VM (pair faults, with figures)
#   make bench-checks  the checker at 2,000 and 10,000 reals on loopback (no VM)
#   make deps     install missing Debian packages (scripts/deps.sh)
#   make deb      build/lvsdirector_VERSION_ARCH.deb (dpkg-deb; VERSION=...)
#   make install  the same tree into DESTDIR (default /)
#
# Knobs: E2E_FILTER=regex (pick tests by name, e.g. E2E_FILTER=smoke),
# E2E_TEST_TIMEOUT=s, VM_MEM=MB, VM_CPUS=n, VM_TIMEOUT=s, VM_ACCEL=tcg|kvm,
# FUZZTIME=20s.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export PATH := /usr/local/go/bin:$(PATH)

VM_MEM ?= 2048
VM_CPUS ?= 2
FUZZTIME ?= 20s
VMRUN := $(CURDIR)/test/vm/run.sh
E2E_LOG := $(CURDIR)/build/e2e.log
export E2E_FILTER E2E_TEST_TIMEOUT VM_TIMEOUT VM_ACCEL VM_CACHE

.PHONY: all build deps unit e2e test demo bench faults bench-checks clean deb install

all: build

deps:
	@scripts/deps.sh

# Only packages that exist under cmd/ (directories without Go files are not
# packages yet); a package that does not compile fails the build.
build:
	@mkdir -p build
	@pkgs=$$(go list -e ./cmd/... 2>/dev/null || true); \
	if [ -z "$$pkgs" ]; then echo "build: no commands under cmd/ yet"; exit 0; fi; \
	echo "CGO_ENABLED=0 go build -trimpath -o build/" $$pkgs; \
	CGO_ENABLED=0 go build -trimpath -o build/ $$pkgs
	CGO_ENABLED=0 go build -trimpath -o build/vmcheck ./ipvs/internal/vmcheck
	CGO_ENABLED=0 go build -trimpath -o build/iptool ./failover/ipaddr/internal/iptool
	CGO_ENABLED=0 go build -trimpath -o build/connhold ./test/e2e/tools/connhold

DESTDIR ?= /

deb: build
	@scripts/mkdeb.sh deb $(CURDIR)/build $(CURDIR)/build

install: build
	@scripts/mkdeb.sh install $(CURDIR)/build $(DESTDIR)

unit:
	go vet ./...
	@bad=$$(find . -name '*.go' -not -path './.git/*' -not -path './build/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$bad" | sed 's/^/  /'; exit 1; fi; \
	echo "gofmt: ok"
	CGO_ENABLED=1 go test -race ./...
	@for f in $$(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . 2>/dev/null | grep -v '^./build/' | sort); do \
		dir=$$(dirname "$$f"); \
		for fn in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$$f"); do \
			echo "go test -run='^\$$' -fuzz='^$$fn\$$' -fuzztime=$(FUZZTIME) $$dir/"; \
			go test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) "$$dir/"; \
		done; \
	done

e2e: deps build deb
	@rm -f $(E2E_LOG)
	@$(VMRUN) $(CURDIR)/test/e2e/suite.sh $(VM_MEM) $(VM_CPUS) 2>&1 | tee $(E2E_LOG)

# Everything, even when unit tests fail; ends with the e2e line
# "N passed, N failed" (CI reads it).
test: deps
	@rm -f $(E2E_LOG); \
	unit=0; $(MAKE) --no-print-directory unit || unit=$$?; \
	e2e=0; $(MAKE) --no-print-directory e2e || e2e=$$?; \
	echo; \
	if [ $$unit -eq 0 ]; then echo "unit: ok"; else echo "unit: FAILED"; fi; \
	line=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $(E2E_LOG) 2>/dev/null | tail -n 1 || true); \
	if [ -z "$$line" ]; then echo "e2e: no result (build failure, VM crash or timeout: see above)"; exit 1; fi; \
	echo "$$line"; \
	[ $$unit -eq 0 ] && [ $$e2e -eq 0 ]

# Only the demo's packages (scripts/deps.sh demo); the package is built and
# installed in the VM with apt, as on a director.
demo: build
	@scripts/deps.sh demo
	@scripts/mkdeb.sh deb $(CURDIR)/build $(CURDIR)/build
	@$(VMRUN) $(CURDIR)/test/e2e/demo.sh $(VM_MEM) $(VM_CPUS)

bench: deps build
	@if ! ls test/e2e/bench_*.sh >/dev/null 2>&1; then echo "bench: no test/e2e/bench_*.sh yet"; exit 0; fi; \
	E2E_GLOB='bench_*.sh' E2E_REQUIRE_ASSERT=0 $(VMRUN) $(CURDIR)/test/e2e/suite.sh $(VM_MEM) $(VM_CPUS)

# Fault runs against a directord pair in the VM (test/e2e/faults_*.sh), with
# figures: E2E_FAULT_RUNS (20) simultaneous starts and partitions, lossy links
# for E2E_FAULT_LOSSY_SECS (30) per level. t_85_pair_faults is the short
# version in make test.
# faults_flap.sh: two reals flapping every 300 ms for E2E_FLAP_SECS (600);
# (resource scripts failing or hanging on stop: t_88_stop_fail in make test);
# faults_soak.sh: SOAK_MIN minutes (30) of 200 flapping reals and a takeover
# every 2 minutes (E2E_FILTER=soak runs it alone).
faults: deps build
	@E2E_GLOB='faults_*.sh' VM_TIMEOUT=$${VM_TIMEOUT:-7200} VM_PASS_ENV="SOAK_MIN $${VM_PASS_ENV:-}" $(VMRUN) $(CURDIR)/test/e2e/suite.sh $(VM_MEM) $(VM_CPUS)

# Health checking at scale on the plain machine (no VM): 2,000 and 10,000
# nginx reals on loopback, checked every second.
bench-checks: deps
	@test/bench/checkload.sh

clean:
	rm -rf build
