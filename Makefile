# silicio developer entry points. Every target bootstraps what it needs on a fresh machine:
# system packages (apt), then the virtual environment in .venv with the package, all its extras
# (silicio[all]) and its dev tools.
#
#   make run     the demo            make test    the test suite
#   make bench   benchmarks          make lint    ruff check and format --check
#   make clean   caches and outputs  make distclean  also .venv

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WARM := $(VENV)/.kernels-cached

# System packages areas need beyond Python: postgresql (the lake's catalog tests run against a
# throwaway server), chromium (the dashboard's browser tests) and gcc (the STDF kernels compiled
# ahead of time). `make system` installs the missing ones, and every target runs it.
APT_PACKAGES := postgresql chromium gcc

# pip stays quiet unless something goes wrong; CI shows its output to debug bootstrap failures.
PIP_QUIET := $(if $(CI),,--quiet)

.PHONY: run test bench lint clean distclean system

# The demo fab generated and ingested on first use (a few minutes), then the dashboard.
run: $(WARM)
	@$(BIN)/silicio serve --demo

# The test files spread over one worker process per CPU (pytest-xdist); a file's tests stay
# together in one worker, so its module fixtures (a lake, a server) are made once.
# TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

test: $(WARM)
	@$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# One script an area, each writing its table under benchmarks/results/ (ratios against peers
# measured in the same run). Never part of `make test`.
BENCHMARKS := run.py lake_bench.py yields_bench.py report_bench.py spc_bench.py trace_bench.py web_bench.py supply_bench.py spatial_bench.py correlate_bench.py first_run_bench.py alerts_bench.py

bench: $(WARM)
	@missed=""; for script in $(BENCHMARKS); do \
		[ -f benchmarks/$$script ] || continue; \
		echo "== benchmarks/$$script"; \
		$(BIN)/python benchmarks/$$script || missed="$$missed $$script"; \
	done; \
	if [ -n "$$missed" ]; then echo "targets missed or benchmarks failed:$$missed"; exit 1; fi

lint: $(STAMP)
	@$(BIN)/ruff check --quiet .
	@$(BIN)/ruff format --check --quiet .

system:
ifneq ($(strip $(APT_PACKAGES)),)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing system packages:" $$missing; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
endif

# Rebuilt when pyproject.toml changes (new dependencies). Creating the venv over an existing one
# is harmless, so a half-finished bootstrap is simply redone.
$(STAMP): pyproject.toml | system
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "silicio needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) \
		|| { echo "could not create $(VENV): install the venv module (apt-get install python3-venv)" >&2; exit 1; }
	@$(BIN)/python -m pip install $(PIP_QUIET) --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install $(PIP_QUIET) --disable-pip-version-check -e '.[all,dev]'
	@touch $@

# numba compiles the STDF kernels the first time a process reads a file (25 s of CPU) and keeps
# them in its cache beside their sources (src/silicio/stdf/__pycache__: the package is installed
# editable; numba's user cache where that is not writable). One small read here compiles them,
# after installing and again when a kernel's source changes, so no command pays for it.
KERNEL_SOURCES := $(shell grep -rl --include='*.py' 'njit' src/silicio 2>/dev/null)

define WARM_KERNELS
import tempfile
from pathlib import Path

from silicio import stdf
from silicio.demo.stdf_demo import write_demo_stdf
from silicio.stdf.summary import summarize

# Files that take each of the reader's ways: small and large (threaded), both byte orders, and
# the shared samples (V4-2007, GDR, damaged files: salvaged) where they sit beside the checkout.
with tempfile.TemporaryDirectory() as folder:
    small = write_demo_stdf(Path(folder) / "small.stdf")
    large = write_demo_stdf(Path(folder) / "large.stdf", dies_per_side=64)
    big_endian = stdf.write(Path(folder) / "large_be.stdf", stdf.read(large), byteorder=">")
    shared = Path("../shared/data/stdf")
    samples = sorted(p for p in shared.glob("*") if p.suffix != ".tsv") if shared.is_dir() else []
    for path in [small, large, big_endian, *samples]:
        for strict in (True, False):
            try:
                tables = stdf.read(path, strict=strict)
            except stdf.StdfError:
                continue
            summarize(tables)
            stdf.parts(tables)
            stdf.tidy(tables)

# the wafer-map signature classifier's features and forest
from silicio.spatial import classify, generate
classify(generate(18, seed=0)[0])
endef
export WARM_KERNELS

# The STDF reader's kernels compiled ahead of time (src/silicio/stdf/_aot.py, numba.pycc and the C
# compiler): the reader then loads neither numba nor LLVM, 130 MB less at the peak of a large read.
# Rebuilt when the kernels change; where it cannot be built, the reader keeps numba's kernels.
NATIVE := $(VENV)/.stdf-native
NATIVE_SOURCES := src/silicio/stdf/_kernels.py src/silicio/stdf/_layout.py src/silicio/stdf/_aot.py

$(NATIVE): $(STAMP) $(NATIVE_SOURCES)
	@echo "compiling the STDF kernels ahead of time (once, a minute or so)"
	@$(BIN)/python -m silicio.stdf._aot >/dev/null \
		|| echo "could not compile them (a C compiler is needed): the STDF reader uses numba's kernels" >&2
	@touch $@

$(WARM): $(STAMP) $(NATIVE) $(KERNEL_SOURCES)
	@echo "compiling silicio's numba kernels into their cache (once, a minute or so)"
	@$(BIN)/python -c "$$WARM_KERNELS"
	@touch $@

clean:
	@rm -rf out build dist .pytest_cache .ruff_cache .hypothesis benchmarks/results $(WARM) $(NATIVE)
	@rm -f src/silicio/stdf/_kernels_aot*.so
	@find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	@rm -rf $(VENV) src/*.egg-info
