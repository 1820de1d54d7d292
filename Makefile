# The two quick-start commands: `make demo` and `make test` (see README.md).
.PHONY: deps build demo test test-release test-asan layering bench clean

JOBS ?= $(shell nproc)
# ccache (used when installed) keys objects by paths relative to the checkout, so a fresh clone in
# another folder (CI) reuses what an earlier build on the same machine compiled.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
DEMO_AS_OF ?= 2026-11-22
DEMO_PORT ?= 8080

deps:
	./scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# Assess the bundled example patients (one text, JSON and HTML report each in build/demo/), then
# start the clinic server on build/demo/clinic.db seeded with them: it prints the URL and one-time
# demo logins (generated at start; no password is shipped). Ctrl-C stops it.
demo: build
	./build/release/refract assess examples/*.json --as-of $(DEMO_AS_OF) --format text --out-dir build/demo
	./build/release/refract assess examples/*.json --as-of $(DEMO_AS_OF) --format json --out-dir build/demo
	./build/release/refract assess examples/*.json --as-of $(DEMO_AS_OF) --format html --out-dir build/demo
	@echo
	./build/release/refract serve --db sqlite:build/demo/clinic.db --demo --as-of $(DEMO_AS_OF) --listen 127.0.0.1:$(DEMO_PORT)

# The whole suite: layering check, warnings-as-errors Release build and tests, then the
# same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps layering test-release test-asan

layering:
	./tools/check_layering.sh

test-release:
	cmake --preset ci >/dev/null
	cmake --build --preset ci -j $(JOBS)
	ctest --preset ci -j $(JOBS)

test-asan:
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

bench: build
	./build/release/bench/refract_bench
	./bench/cli_cold_start.sh build/release

clean:
	rm -rf build
