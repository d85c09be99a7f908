# Two entry points, both starting from a fresh clone with only Python 3.11 and pip:
#   make book  -- set up .venv, execute every chapter with papermill, build book/_build/html
#   make test  -- set up .venv, run the unit tests (two pytest-xdist workers), build the book
#                 with warnings as errors, then open every page of the built book in headless
#                 Chromium (tests/browser; they skip with a message when Chromium is missing:
#                 apt-get install chromium)
# .venv is (re)created only when it is missing or when the pins (constraints.txt, pyproject.toml)
# changed since it was installed. `make book` installs what the book needs (the package and its
# "book" extra); `make test` and `make venv` add the "test" and "classroom" extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BOOK_STAMP := $(VENV)/.installed-book
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(PY) -m pip install --quiet --constraint constraints.txt --editable

.PHONY: book test venv clean

book: $(BOOK_STAMP)
	$(VENV)/bin/otcompanion build

test: $(DEV_STAMP)
	$(PY) -m pytest -n 2 --dist worksteal
	$(VENV)/bin/otcompanion build
	$(PY) -m pytest -m browser tests/browser

venv: $(DEV_STAMP)

$(BOOK_STAMP): constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version' 
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PIP_INSTALL) ".[book]"
	touch $(BOOK_STAMP)

$(DEV_STAMP): $(BOOK_STAMP)
	$(PIP_INSTALL) ".[book,test,classroom]"
	touch $(DEV_STAMP)

clean:
	rm -rf book/_build book/chapters book/_generated reports
