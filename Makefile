# Two entry points, both starting from a fresh clone with only Python 3.11 and pip:
#   make book  -- set up .venv, execute every chapter with papermill, build book/_build/html
#   make test  -- set up .venv, run the test suite, then build the book with warnings as errors
# .venv is (re)created only when it is missing or when the pins (constraints.txt, pyproject.toml)
# changed since it was installed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test venv clean

book: $(STAMP)
	$(VENV)/bin/otcompanion build

test: $(STAMP)
	$(PY) -m pytest
	$(VENV)/bin/otcompanion build

venv: $(STAMP)

$(STAMP): constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version' 
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet --constraint constraints.txt --editable ".[book,test,classroom]"
	$(PY) -m ipykernel install --sys-prefix --name otcompanion --display-name "Python (otcompanion)"
	touch $(STAMP)

clean:
	rm -rf book/_build book/chapters book/_generated reports
