# Two entry points, both starting from a fresh clone with only Python 3.11 and pip:
#   make book  -- set up .venv, execute every chapter with papermill, build book/_build/html
#   make test  -- set up .venv, lint (ruff check), run the unit tests (two pytest-xdist
#                 workers) while the book builds with warnings as errors, then open every page of the
#                 built book in headless Chromium (tests/browser; they skip with a message when
#                 Chromium is missing: apt-get install chromium; with CI set they fail instead)
# Also: make lint (ruff check only), make test-fast (lint and the unit tests not marked slow:
# no Jupyter kernels, no thesis-size training; no book build, no browser).
# .venv is (re)created only when it is missing or when the pins (constraints.txt, pyproject.toml)
# changed since it was installed. `make book` installs what the book needs (the package and its
# "book" and "dask" extras); `make test` and `make venv` add the "test" and "classroom" extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BOOK_STAMP := $(VENV)/.installed-book
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(PY) -m pip install --quiet --constraint constraints.txt --editable

.PHONY: book test test-fast lint venv clean

book: $(BOOK_STAMP)
	$(VENV)/bin/otcompanion build

# The unit tests run while the book builds: on their own they keep about 1.25 of two cores busy
# (kernels starting, sandboxes timing out), so the two together finish minutes sooner than one
# after the other. Their output goes to reports/unit-tests.log, shown when both are done; the
# target fails when either fails.
test: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	@mkdir -p reports
	@echo "[make test] unit tests (two pytest-xdist workers) while the book builds; their log: reports/unit-tests.log"
	@$(PY) -m pytest -n 2 --dist worksteal > reports/unit-tests.log 2>&1 & unit=$$!; \
	$(VENV)/bin/otcompanion build; built=$$?; \
	wait $$unit; tested=$$?; \
	cat reports/unit-tests.log; \
	[ $$tested -eq 0 ] || echo "[make test] the unit tests failed (log above)"; \
	[ $$built -eq 0 ] || echo "[make test] the book build failed"; \
	[ $$tested -eq 0 ] && [ $$built -eq 0 ]
	$(PY) -m pytest -m browser tests/browser

test-fast: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow and not browser" -n 2

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

venv: $(DEV_STAMP)

$(BOOK_STAMP): constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version' 
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PIP_INSTALL) ".[book,dask]"
	touch $(BOOK_STAMP)

$(DEV_STAMP): $(BOOK_STAMP)
	$(PIP_INSTALL) ".[book,dask,test,classroom]"
	touch $(DEV_STAMP)

clean:
	rm -rf book/_build book/chapters book/_generated reports
