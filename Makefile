# make demo  - create .venv if missing, install chainrule editable, run the tour (demo-output/report.html)
# make test  - create .venv if missing, install chainrule[test] editable, run make lint, then the test suite
# make lint  - ruff (lint and import order) and the import contracts of docs/architecture.md
# make docs  - install chainrule[docs] into .venv, build the guide and API reference into build/site (warnings are errors)
# make clean - remove the virtual environment and build/test caches
#
# Installs re-run only when pyproject.toml is newer than the stamp file in .venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint clean docs

demo: $(VENV)/.installed-demo
	$(PY) -m chainrule demo --out demo-output

test: lint
	$(PY) -m pytest -q

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --quiet --disable-pip-version-check -e '.[test]'
	touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

$(VENV)/.installed-docs: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --quiet --disable-pip-version-check -e '.[docs]'
	touch $@

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
