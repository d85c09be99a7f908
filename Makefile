# Two entry points, both starting from a fresh clone with only Python 3.11 and pip:
#   make book  -- set up .venv, execute every chapter with papermill, build book/_build/html
#   make test  -- set up .venv, lint (ruff check), run the unit tests (two pytest-xdist
#                 workers), build the book with warnings as errors, then open every page of the
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
BASE_STAMP := $(VENV)/.created
BOOK_STAMP := $(VENV)/.installed-book
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(PY) -m pip install --quiet --constraint constraints.txt --editable

.PHONY: book test test-fast lint venv clean

book: $(BOOK_STAMP)
	$(VENV)/bin/otcompanion build

test: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist worksteal
	$(VENV)/bin/otcompanion build
	$(PY) -m pytest -m browser tests/browser

test-fast: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow and not browser" -n 2

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

venv: $(DEV_STAMP)

$(BASE_STAMP): constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version' 
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	touch $(BASE_STAMP)

$(BOOK_STAMP): $(BASE_STAMP)
	$(PIP_INSTALL) ".[book,dask]"
	touch $(BOOK_STAMP)

# Everything in one pip run (one resolution, one build of the package); the book's extras are
# among them, so `make book` afterwards installs nothing.
$(DEV_STAMP): $(BASE_STAMP)
	$(PIP_INSTALL) ".[book,dask,test,classroom]"
	touch $(BOOK_STAMP) $(DEV_STAMP)

clean:
	rm -rf book/_build book/chapters book/_generated reports
