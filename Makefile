# Provable In-Context Learning -- build and test commands.
#   make book [PROFILE=quick|paper] [JOBS=2]   execute the chapters with papermill (JOBS at a time), build the book into _build/html
#   make test                         unit tests, nbval on every chapter, .py/.ipynb pairing check
#   make test-notebooks               nbval on every chapter only (CI repeats it under other numerics)
#   make check-html                   browser check of every page of the built book, with screenshots
#   make bench                        throughput benchmark (ensemble trainer vs a plain loop), in-process vs Ray sweep, chapter times
#   make clean                        remove build output, executed chapters and the result cache
PROFILE ?= quick
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
MATHJAX := _vendor/mathjax/tex-chtml.js
CHAPTERS := $(sort $(wildcard notebooks/[0-9]*.py))
EXECUTED := $(patsubst notebooks/%.py,book/%.ipynb,$(CHAPTERS))
# A deterministic hash seed; the result cache in the repository (override ICL_CACHE_DIR; "off" disables it);
# progress bars of chapters executed by make book go to this terminal, never into the notebooks.
export PYTHONHASHSEED := 0
export ICL_CACHE_DIR ?= $(CURDIR)/.icl_cache
export ICL_PROGRESS ?= terminal

.PHONY: book test test-notebooks env clean lint chapters sync bench check-html FORCE
.DELETE_ON_ERROR:

# Chapters execute JOBS at a time. They never train at once: every cached entry point holds the
# result cache's lock while it computes (icl_utils/core/cache.py), so a chapter waits for another's
# training and then reads what it stored; rendering, figures and cached reads run side by side.
JOBS ?= 2
book: $(STAMP) $(MATHJAX)
	$(MAKE) --no-print-directory -j$(JOBS) chapters
	$(BIN)/python -m icl_utils.book pages book
	$(BIN)/jupyter-book build . -W -n --keep-going

# A chapter is re-executed when its notebook, the package or the profile changed.
PKG_SOURCES := $(wildcard icl_utils/*.py icl_utils/*/*.py)
PROFILE_STAMP := book/.profile
chapters: $(EXECUTED)

$(PROFILE_STAMP): FORCE
	@echo $(PROFILE) | cmp -s - $@ || echo $(PROFILE) > $@

book/%.ipynb: notebooks/%.ipynb $(PKG_SOURCES) $(PROFILE_STAMP) | $(STAMP)
	@echo "== executing $* (profile $(PROFILE))"
	$(BIN)/python -m icl_utils.book $< $@ --profile $(PROFILE)

FORCE:

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(MATHJAX):
	rm -rf _vendor/mathjax _vendor/package && mkdir -p _vendor
	cd _vendor && npm pack --silent mathjax@3 >/dev/null && tar xzf mathjax-3*.tgz && mv package/es5 mathjax && rm -rf package mathjax-3*.tgz
	test -f $@

test: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python -m pytest

# The chapters' regression run alone (nbval), e.g. under another machine's numerics:
#   MKL_CBWR=COMPATIBLE make test-notebooks    ATEN_CPU_CAPABILITY=default make test-notebooks
test-notebooks: $(STAMP)
	TQDM_DISABLE=1 $(BIN)/python -m pytest notebooks

lint: $(STAMP)
	$(BIN)/ruff check icl_utils tests notebooks benchmarks
	$(BIN)/ruff format --check icl_utils tests notebooks/*.py benchmarks
	$(BIN)/codespell icl_utils tests notebooks/*.py book/*.md benchmarks README.md
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

clean:
	rm -rf _build book/*.ipynb book/scoreboard.md book/status.md $(PROFILE_STAMP) .pytest_cache
	if [ -x $(BIN)/python ]; then $(BIN)/python -m icl_utils.core.cache clear; fi

# After editing a chapter's .py: re-pair it and store fresh quick-profile outputs for nbval.
sync: export ICL_CACHE_DIR = off
sync: export ICL_PROGRESS = off
sync: $(STAMP)
	@for py in $(CHAPTERS); do \
	  $(BIN)/jupytext --quiet --sync $$py && $(BIN)/python -m icl_utils.book $${py%.py}.ipynb --reference || exit 1; \
	done

# Open every page of the built book at 1280 and 390 px in headless Chromium (Debian's package, installed
# when missing; driven by Playwright): fails on a console error, untypeset TeX, a figure that does not load
# or has no meaningful alt text, a broken internal link, a failed cell, a page wider than the phone screen
# outside a table or figure that scrolls. Screenshots of every page go to _build/screenshots/.
check-html: book
	@command -v chromium >/dev/null || { echo "installing Debian's chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }
	$(BIN)/python -m icl_utils.book check _build/html

# Throughput of the ensemble trainer against a plain loop, machine limits, chapter times.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
