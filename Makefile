# `make demo`: install what is missing, train a small 1-D GP-PFN on the CPU, compare it with the exact GP.
# `make test`: install what is missing, run the test suite.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
TORCH_VERSION ?= 2.13.0
STAMP := .install.stamp

.PHONY: install demo test lint docs mutation clean

# torch goes first, pinned: with torch already present, pip never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) scripts/demo.py

test: $(STAMP)
	$(PYTHON) -m pytest -q tests

lint: $(STAMP)
	$(PYTHON) -m ruff check pfn priors scripts tests
	$(PYTHON) -m ruff format --check pfn priors scripts tests
	$(PYTHON) -m mypy pfn priors

docs: $(STAMP)
	$(PYTHON) -m mkdocs build --strict

# Not part of CI: apply the named mutations of tests/mutants/ and report how many the suite catches.
mutation: $(STAMP)
	$(PYTHON) scripts/mutation_check.py

clean:
	rm -rf $(STAMP) outputs site build .pytest_cache .mypy_cache *.egg-info
