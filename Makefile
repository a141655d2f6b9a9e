# grpc-web-proxy — every command a newcomer needs.
#   make demo     build and run the proxy in front of a demo gRPC service, with a browser page
#   make test     install test dependencies, build, run all unit and integration tests
#   make bench    our proxy vs Envoy vs direct, one run (see Benchmarks/README.md)
#   make fuzz     libFuzzer on every codec and config decoding, FUZZ_SECONDS (default 60) each (Fuzz/README.md)
#   make sanitize integration suite against ASan and TSan builds of the proxy (Tests/sanitize.sh)
#   make soak     SOAK_CALLS mixed calls while an upstream is killed and restarted; the proxy must end at baseline

SHELL := /bin/bash
PYTHON ?= python3
SYSTEM_DEPS := libnghttp2-dev libssl-dev pkg-config
# openssl: the tests make their certificates with it; nghttp2-client: h2load (HTTP/2 load and abuse tests);
# wget and systemd (systemd-analyze): the deployment tests run the reload sidecar's wget and verify the unit.
TEST_DEPS := chromium curl openssl nghttp2-client wget systemd
PROXY_DEBUG := .build/debug/grpc-web-proxy
PROXY_RELEASE := .build/release/grpc-web-proxy
SOAK_CALLS ?= 100000
SOAK_WORKERS ?= 2

.PHONY: deps test-deps build release test unit-test integration-test demo bench clean
.PHONY: fuzz sanitize
FUZZ_SECONDS ?= 60

deps:
	bash .ci/install-deps.sh $(SYSTEM_DEPS)

test-deps: deps
	bash .ci/install-deps.sh $(TEST_DEPS)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r Tests/Integration/requirements.txt

build: deps
	swift build

release: deps
	swift build -c release --product grpc-web-proxy

unit-test: test-deps
	swift build --build-tests
	swift test --skip-build

integration-test: test-deps build
	PROXY_BIN=$(CURDIR)/$(PROXY_DEBUG) $(PYTHON) -m pytest Tests/Integration -q -p no:cacheprovider

# Everything: unit tests (XCTest) then integration tests (pytest, real grpcio server, WebSocket client, Chromium).
test: unit-test integration-test

demo: release
	bash deploy/demo/run-demo.sh

bench:
	bash Benchmarks/run.sh
	swift build -c release --scratch-path .build-bench --product CodecBenchmarks
	.build-bench/release/CodecBenchmarks

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Fuzz/run-fuzz.sh

sanitize: test-deps
	PYTHON=$(PYTHON) bash Tests/sanitize.sh

# Soak with faults (Tests/Soak/README.md): the release proxy unless PROXY_BIN names another; exit code 0/1.
.PHONY: soak
soak: release
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r Tests/Integration/requirements.txt
	PROXY_BIN="$${PROXY_BIN:-$(CURDIR)/$(PROXY_RELEASE)}" $(PYTHON) Tests/Soak/soak.py --calls $(SOAK_CALLS) --proxy-workers $(SOAK_WORKERS)

clean:
	rm -rf .build .build-*
