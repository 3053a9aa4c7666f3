# Two commands do everything (see README): `make book` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test unit nbval install clean bench execute

install: $(STAMP)

# One environment for the book and the tests: the project, editable, with both extras.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

# The HTML book from the stored notebook outputs (no re-execution), warnings as errors.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going --builder html

test: unit nbval

# The unit tests and the browser test of the built book (tests/test_browser.py builds it when it is stale).
unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

# Real data for the chapters and tests: $RESNET_DATA, else the shared folder beside a checkout, if any, else
# the small sample in resnet_lib/sample_data (the smoke size only; `make test RESNET_DATA=` forces it).
SHARED_DATA := $(abspath ../shared/data)
export RESNET_DATA ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)

# The chapters at the smoke run size, outputs compared with the stored ones (on the sample, those of the cells
# that load a data set are not: tests/nbval_sample.py).
nbval: $(STAMP)
	RESNET_RUN_SIZE=smoke RESNET_PROGRESS=0 $(BIN)/python -m pytest --nbval notebooks -q -p no:cacheprovider \
		-p tests.nbval_sample --nbval-sanitize-with tests/nbval_sanitize.cfg

# Re-run a chapter and store its outputs: make execute NB=notebooks/03_basic_vs_bottleneck.ipynb SIZE=cpu
SIZE ?= cpu
execute: $(STAMP)
	RESNET_RUN_SIZE=$(SIZE) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 $(NB)

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf _build .pytest_cache
