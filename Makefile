# fdb-election developer commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck pytest demo dist dist-check bench bench-peers sim chaos docs docs-images clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict examples tools

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/fdb-election demo

# The sdist and wheel, in dist/ (python -m build: the wheel is built from the sdist).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# Build, install the wheel into a clean venv (not editable) and smoke-test it there (CI runs it).
dist-check: $(STAMP)
	$(BIN)/python tools/dist_check.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

# fdb-election run and the Elector next to etcd (etcdctl lock) and ZooKeeper (kazoo) on loopback:
# hand-over, failover, idle CPU and RSS, into benchmarks/PEERS.md. Not in `make bench` or `make
# test`. Installs what it can first (benchmarks/install_peers.sh: Debian packages as root, kazoo
# into .venv); a system still missing is skipped with the reason.
bench-peers: $(STAMP)
	sh benchmarks/install_peers.sh $(BIN)/python
	$(BIN)/python benchmarks/peers.py $(if $(QUICK),--quick,)

SEEDS ?= 1000
sim: $(STAMP)
	$(BIN)/python -m fdb_election.sim --seeds $(SEEDS)
	$(BIN)/python -m fdb_election.sim --seeds $(SEEDS) --electors-per-driver 2

# Real `fdb-election run` processes under kill -9, SIGTERM, SIGSTOP and resign for 4 minutes;
# fails on any overlap of two CMDs or a fencing token that does not increase. Not in `make test`.
CHAOS_SECONDS ?= 240
chaos: $(STAMP)
	$(BIN)/python tools/chaos.py --seconds $(CHAOS_SECONDS)

# Regenerate what docs/ derives from the code: the API reference and the timeline pictures.
docs: docs-images $(STAMP)
	$(BIN)/python tools/gen_api_reference.py

docs-images: $(STAMP)
	$(BIN)/python -m fdb_election.sim --scenario crash --timeline docs/images/timeline-crash.svg
	$(BIN)/python -m fdb_election.sim --scenario handover --timeline docs/images/timeline-handover.svg
	$(BIN)/python -m fdb_election.sim --scenario same-id --timeline docs/images/timeline-same-id.svg

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist src/*.egg-info
