# Set-up and entry points. Every target installs what it needs itself.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv data clean

$(STAMP): requirements.txt setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null || \
	  { echo "This toolkit needs Python 3.11 (pinned mxnet 1.9.1 stack); set PYTHON=/path/to/python3.11."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Handwriting fonts (npm/Debian, pinned list) and English text (Debian packages) used by the data engine.
data: $(STAMP)
	$(PY) -m ocr.data.fonts install
	$(PY) -m ocr.data.corpus build
	$(PY) -m ocr.sclite install || echo "NIST sclite not installed: evaluation runs without it and its test is skipped"

demo: data
	$(PY) -m ocr.pipeline samples/page.png --out data/demo --overwrite
	@echo "Boxes and text drawn on the page: data/demo/page_boxed.png (JSON: data/demo/page.json)"

test: data
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) data
