# ba2m_mm developer commands. Every target installs first if needed (tools/install.sh is
# idempotent: a second run only re-checks the environment).
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LINT_PATHS := ba2m_mm tools tests configs setup.py
export VENV

.PHONY: install test demo demo-compare lint format benchmark clean

install:
	bash tools/install.sh

## The test suite (CPU, offline). pytest exits non-zero when it collects no test.
## TEST_WORKERS pytest-xdist processes (default 2, the cores it is sized for; 0: serial, in
## one process). --dist loadgroup: tests/conftest.py keeps a module's tests that share a
## module-scoped fixture on one worker.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## The main job: build the digits instance-segmentation set, train + evaluate BA2M Mask R-CNN.
demo: install
	$(PY) tools/demo.py

## The same, plus the plain-ResNet twin under the same budget, side by side.
## Repeats: make demo-compare SEEDS="0 1 2" BATCH="2 4" (mean +- std per images/batch and arm).
SEEDS ?=
BATCH ?=
demo-compare: install
	$(PY) tools/demo.py --compare $(if $(strip $(SEEDS)),--seeds $(SEEDS)) $(if $(strip $(BATCH)),--batch-size $(BATCH))

lint: install
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --recursive --diff $(LINT_PATHS)
	$(VENV)/bin/codespell $(LINT_PATHS) README.md docs/*.md

format: install
	$(PY) -m isort $(LINT_PATHS)
	$(PY) -m yapf --recursive --in-place $(LINT_PATHS)

## Cost of BA2M vs plain ResNet-50 and other attention plugins (tools/analysis/benchmark.py).
## Long: a quick look is make benchmark BENCHMARK_ARGS="--settings cls --rounds 2 --steps 1".
BENCHMARK_ARGS ?=
benchmark: install
	@echo "[benchmark] $(if $(strip $(BENCHMARK_ARGS)),Options: $(BENCHMARK_ARGS). The default run,Default run): settings cls (6 models) and det (5 models) in interleaved rounds, about 25 min on an idle 2-core CPU, longer on a busy one."
	@echo "[benchmark] Quick look (a few minutes): make benchmark BENCHMARK_ARGS=\"--settings cls --rounds 2 --steps 1\". Results: work_dirs/benchmark/benchmark.json and benchmark.png."
	$(PY) tools/analysis/benchmark.py $(BENCHMARK_ARGS)

clean:
	rm -rf build *.egg-info .pytest_cache work_dirs
