# tradebus: `make run` sets up and runs the suite; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test unit integration check lint bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "tradebus needs Python 3.11 or newer" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: install  ## the four services trading a replay of sample data (RabbitMQ if it answers, else in-process)
	$(BIN)/tradebus run

test: install  ## every test: unit (no broker) and integration (real RabbitMQ)
	$(BIN)/pytest -q

check: install  ## static checks of the deployment files; needs docker-compose and promtool (bash .ci/run installs them)
	$(BIN)/python deploy/generate.py --check
	docker-compose --env-file .env.example -f docker-compose.yml config --quiet
	docker-compose --env-file .env.example -f docker-compose.yml -f deploy/compose.tls.yml config --quiet
	docker-compose --env-file .env.example -f docker-compose.yml -f deploy/compose.live.yml config --quiet
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml
	$(BIN)/kubernetes-validate --strict --quiet $(filter-out deploy/k8s/rabbitmq-cluster.yaml deploy/k8s/strategy-autoscaling.yaml deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))
	$(BIN)/pytest -q tests/deploy -m "not integration"

lint: install  ## ruff on the tree, mypy --strict on shared/ and every domain/, the import contracts (pyproject.toml)
	$(BIN)/ruff check shared services tools bench tests deploy
	$(BIN)/mypy --strict shared services/data/domain services/strategy/domain services/execution/domain services/portfolio/domain
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest -q tests/unit tests/parity tests/contract -k "not amqp" -m "not integration"

integration: install
	$(BIN)/pytest -q -m integration

bench: install  ## long benchmarks; figures go to docs/benchmarks.md
	$(BIN)/python -m bench.bus_overhead

clean:
	rm -rf $(VENV) .pytest_cache var
