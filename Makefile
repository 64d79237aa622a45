# Two entry points on a fresh machine: `make demo` (a shipped recipe on its built-in data) and `make test`.
# Each builds the virtual environment from requirements.lock first; nothing installed by hand is assumed.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: venv demo test test-fast browser clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Exit 3 means the run finished and a budget fails (the table above says which): the demo still did its job.
demo: venv
	$(BIN)/compress --recipe fpga_cae_ternary --quick || test $$? -eq 3

# The HTML report is tested in Debian's chromium; install it when missing (root on these machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: venv browser
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 -n 2 --dist loadgroup --no-loadscope-reorder

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) out
