# Latentzip: make help lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint
CLUSTER_STAMP := $(VENV)/.installed-cluster
LINT_SITE := build/lint-site
BENCH_STAMP := $(VENV)/.installed-bench
# the desktop bundle is built from its own venv: runtime deps + PyInstaller, never torch
PKG_VENV := .venv-package
PKG_PY := $(PKG_VENV)/bin/python
PKG_STAMP := $(PKG_VENV)/.installed
SOURCES := $(shell find codec gui resources app -type f -not -path '*/__pycache__/*')
KODAK ?= ../shared/data/kodak
LARGE_PHOTO ?= ../shared/data/photos/Kleiber.jpg
TRAIN_MINUTES ?= 120
TRAIN_THREADS ?= 0  # 1 while other work shares the 2 cores (two torch threads collapse under contention)
TRAIN_LR ?= 1e-5  # fine-tuning: a restart at 3e-5 jolted the colour (training/README.md, session 7)
TRAIN_EMA ?= 0.999  # the weight average export takes (training/README.md, session 8)
BENCH_ARGS ?=

.PHONY: help run test test-all test-cluster lint bench bench-latentzip bench-int8 bench-robust bench-targets bench-estimates bench-many bench-photos bench-profile bench-speed train export qat int8 int8-ptq pack-checkpoint pack-student screenshots package package-test clean

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The development install is editable (setuptools' editable finder maps latentzip.codec to codec/ and so
# on): a change under codec/, gui/, app/ or resources/ is live without reinstalling. Only a change to
# pyproject.toml (a new subpackage, a dependency) needs a reinstall, which this stamp does.
$(STAMP): pyproject.toml $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install -q -e ".[test,training,bench]"
	touch $@

$(LINT_STAMP): $(STAMP)
	$(PIP) install -q -e ".[lint]"
	touch $@

# mypy does not follow the editable finder: it checks a regular install of the package, built fresh
lint: $(LINT_STAMP)  ## ruff (rules and format) over the repo, mypy over codec/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf $(LINT_SITE)
	sh packaging/fresh_build.sh $(PIP) install -q --no-deps --target $(LINT_SITE) .
	cd $(LINT_SITE) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/build/mypy-cache -p latentzip.codec

run: $(STAMP)  ## install into .venv and open the app
	$(VENV)/bin/latentzip gui || $(VENV)/bin/latentzip --help

test: $(TEST_STAMP)  ## install and run the fast tests
	cd tests && QT_QPA_PLATFORM=offscreen ../$(PY) -m pytest -q .

test-all: $(TEST_STAMP)  ## all tests, slow ones included
	cd tests && QT_QPA_PLATFORM=offscreen ../$(PY) -m pytest -q -m "" .

# Ray (the cluster extra) goes into the development venv only, never into the desktop bundle's
$(CLUSTER_STAMP): $(TEST_STAMP)
	$(PIP) install -q -e ".[cluster]"
	touch $@

test-cluster: $(CLUSTER_STAMP)  ## install the Ray extra, run the Ray tests (they start and stop a local cluster)
	cd tests && QT_QPA_PLATFORM=offscreen ../$(PY) -m pytest -q -m ray test_cluster.py

screenshots: $(STAMP)  ## save the window's main states to docs/screenshots/ (for the README)
	QT_QPA_PLATFORM=offscreen $(PY) -m latentzip.gui.screenshots --out docs/screenshots \
		$(if $(wildcard $(LARGE_PHOTO)),--large-photo $(LARGE_PHOTO))

$(BENCH_STAMP): $(STAMP)
	$(PIP) install -q ".[bench]"
	touch $@

bench: $(BENCH_STAMP)  ## Latentzip vs 7-Zip, tar, JPEG, WebP, AVIF, JPEG XL on Kodak: tables, charts (BENCH_ARGS=...)
	sh bench/setup.sh
	$(PY) bench/run_all.py --folder $(KODAK) $(BENCH_ARGS)

bench-latentzip: $(STAMP)  ## only the Latentzip table (A/B/C x range/lzma) on Kodak
	$(PY) bench/kodak_table.py --folder $(KODAK)

bench-int8: $(STAMP)  ## fp32 against int8 on Kodak: model bytes, times, bpp, MS-SSIM, PSNR (BENCH_ARGS='--variant N=DIR')
	$(PY) bench/int8.py --folder $(KODAK) --mixed $(BENCH_ARGS)

ROBUST ?= ../shared/data/robust
ROBUST_ARGS ?=
bench-robust: $(STAMP)  ## stress photos and Kodak, fp32 and int8: worst images, colour error, AVIF, issue 13's targets (ROBUST_ARGS='--limit 3')
	$(PY) bench/robust.py --folder $(ROBUST) $(KODAK) $(ROBUST_ARGS)

PHOTOS ?= ../shared/data/photos
bench-photos: $(BENCH_STAMP)  ## real JPEG photos kept exactly: Latentzip --images lossless against 7-Zip and tar+xz
	sh bench/setup.sh
	$(PY) bench/photos_lossless.py --folder $(PHOTOS)

bench-targets: $(STAMP)  ## size and quality targets on Kodak: accuracy, choices, MS-SSIM, time (BENCH_ARGS=...)
	$(PY) bench/targets.py --folder $(KODAK) $(BENCH_ARGS)

ESTIMATE_ARGS ?=
bench-estimates: $(STAMP)  ## the estimate before compressing against the archive: Kodak, photos, both, mixed; A/B/C (ESTIMATE_ARGS=...)
	$(PY) bench/estimates.py $(ESTIMATE_ARGS)

MANY_ARGS ?=
bench-many: $(STAMP)  ## 10,000 small photos: compress (lossy A) and extract, files/s and peak memory (MANY_ARGS=...)
	$(PY) bench/many_files.py $(MANY_ARGS)

PROFILE_ARGS ?=
bench-profile: $(STAMP)  ## compress and extract split into stages (Kodak, 20 MP photo): seconds, shares, cores, peak memory (PROFILE_ARGS='--limit 3')
	$(PY) bench/stage_profile.py --folder $(KODAK) --photo $(LARGE_PHOTO) $(PROFILE_ARGS)

SPEED_ARGS ?=
bench-speed: $(STAMP)  ## Latentzip against AVIF speed 6 (2 threads) at equal MS-SSIM, whole processes, median of 3 (SPEED_ARGS='--runs 1 --limit 3')
	$(PY) bench/speed.py --folder $(KODAK) --photo $(LARGE_PHOTO) $(SPEED_ARGS)

train: $(STAMP)  ## resume training in the background (log: training/runs/train.out)
	$(PIP) install -q ".[training]"
	mkdir -p training/runs
	nohup $(PY) -m training.train --threads $(TRAIN_THREADS) --lr $(TRAIN_LR) --ema $(TRAIN_EMA) --amp auto --channels-last --minutes $(TRAIN_MINUTES) > training/runs/train.out 2>&1 &

export: $(STAMP)  ## export the latest run's weight average to resources/models
	$(PY) -m training.checkpoint averaged training/runs/main/last.pt training/runs/main/averaged.pt
	$(PY) -m training.export --checkpoint training/runs/main/averaged.pt

QAT_MINUTES ?= 60
qat: $(STAMP)  ## resume quantization-aware fine-tuning of the int8 student in the background (log: training/runs/qat.out)
	$(PIP) install -q ".[training]"
	mkdir -p training/runs
	nohup $(PY) -m training.qat --minutes $(QAT_MINUTES) > training/runs/qat.out 2>&1 &

int8: $(STAMP)  ## the int8 g_a, h_a, g_s of the default model set, from the fine-tuned student (training/qat.py)
	$(PIP) install -q ".[training]"
	$(PY) -m training.qat --export

int8-ptq: $(STAMP)  ## post-training int8 of a model set (INT8_ARGS='--set DIR --default A=int8 ...'; released sets are refused)
	$(PIP) install -q ".[training]"
	$(PY) -m training.quantize $(INT8_ARGS)

pack-checkpoint:  ## shrink the run checkpoint into the committed fp16 file
	$(PY) -m training.checkpoint pack training/runs/main/last.pt training/checkpoint/latentzip.pt

pack-student:  ## the int8 student's run checkpoint into the committed fp16 file
	$(PY) -m training.qat --pack

$(PKG_PY):
	$(PYTHON) -m venv $(PKG_VENV)
	$(PKG_VENV)/bin/pip install -q --upgrade pip

# a regular install (the bundle freezes site-packages), built fresh so no stale build/lib file ships
$(PKG_STAMP): pyproject.toml packaging/requirements.txt $(PKG_PY) $(SOURCES)
	$(PKG_VENV)/bin/pip install -q -r packaging/requirements.txt
	sh packaging/fresh_build.sh $(PKG_VENV)/bin/pip install -q . && \
		sh packaging/fresh_build.sh $(PKG_VENV)/bin/pip install -q --force-reinstall --no-deps .
	touch $@

package: $(PKG_STAMP)  ## build the desktop app: dist/latentzip/ (one folder) and dist/onefile/latentzip
	$(PKG_VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/latentzip.spec

package-test: package  ## build the desktop app, then test the frozen app from a read-only copy
	$(PKG_PY) packaging/test_bundle.py --onedir dist/latentzip --onefile dist/onefile/latentzip

clean:
	rm -rf build dist *.egg-info
