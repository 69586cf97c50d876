# Tierdesk. Two commands matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

# make test runs against the local PostgreSQL and Redis unless told otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tierdesk
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
TEST_BROKER_URL ?= redis://127.0.0.1:6379/2

.PHONY: run serve test lint fmt migrate seed services chromium wrk ldap-dev slapd dovecot screenshots bench bench-quick bench-live soak audit clean vendor-axe

$(STAMP): pyproject.toml | ldap-dev
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

## Without DATABASE_URL every database step runs against the embedded PostgreSQL in var/pg
## (helpdesk/embedded_pg.py): started for the step, or already up under `make run`.
EMBEDDED := $(PY) -m helpdesk.embedded_pg exec --

migrate: $(STAMP)
	$(EMBEDDED) bash -c '$(PY) manage.py migrate --noinput && $(PY) manage.py createcachetable'

seed: migrate
	$(EMBEDDED) $(PY) manage.py seed_demo

## make run: embedded PostgreSQL (unless DATABASE_URL is set) + web + worker + beat.
## Ctrl-C stops them all, the database last.
run: $(STAMP)
	@$(EMBEDDED) $(MAKE) --no-print-directory serve

serve: seed
	@echo ""
	@echo "  Tierdesk is starting at http://127.0.0.1:$${TIERDESK_PORT:-8000}/"
	@echo "  Logins (password 'demo'): agent1 (Tier 1), agent2 (Tier 2), agent3 (Tier 3), manager, customer"
	@echo "  Ctrl-C stops web, worker, beat and the database."
	@echo ""
	$(VENV)/bin/honcho start -f Procfile

## Debian's chromium for the browser tests (never `playwright install`).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v chromium >/dev/null

## Debian's wrk drives the benchmark (make bench) and its smoke test (make test).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	@command -v wrk >/dev/null

## axe-core (the accessibility audit of the browser tests) is vendored from npm like
## htmx and Chart.js: `make vendor-axe AXE_VERSION=…` fetches another release with
## npm (which checks the package's integrity) and replaces the file the tests load.
AXE_VERSION ?= 4.14.1
vendor-axe:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && \
		tar xzf axe-core-$(AXE_VERSION).tgz && cd - >/dev/null && \
		rm -f static/vendor/axe-core-*.min.js && \
		cp $$tmp/package/axe.min.js static/vendor/axe-core-$(AXE_VERSION).min.js && \
		cp $$tmp/package/LICENSE static/vendor/axe-core.LICENSE && rm -rf $$tmp
	@echo "static/vendor/axe-core-$(AXE_VERSION).min.js (update AXE_FILE in tests/e2e/a11y.py)"

## python-ldap (a dependency) builds against Debian's OpenLDAP and SASL headers.
ldap-dev:
	@{ test -f /usr/include/ldap.h && test -f /usr/include/sasl/sasl.h; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libldap-dev libsasl2-dev >/dev/null; }

## Debian's slapd: the directory tests start a throwaway one (tests/identity/slapd.py).
slapd:
	@test -x /usr/sbin/slapd || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null; }
	@test -x /usr/sbin/slapd

## Debian's dovecot-imapd: the e-mail tests and the mail benchmark start their own on a
## throwaway port with a temporary maildir (the package's system service is not used).
dovecot:
	@command -v dovecot >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }
	@command -v dovecot >/dev/null

## Redis must answer (Debian's package is installed when absent). PostgreSQL: the
## machine's own cluster is started when it is installed but stopped; a machine with
## none runs `make test` on the embedded server instead (see `test`).
services:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; redis-cli -h 127.0.0.1 -p 6379 ping
	@if command -v pg_ctlcluster >/dev/null && ls -d /etc/postgresql/*/main >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -n | tail -1) main start; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make test: the whole suite on PostgreSQL + Redis, browser tests in Debian's chromium.
## PostgreSQL is TEST_DATABASE_URL's when a server answers there, else an embedded one
## (var/pg-test, no fsync) started for the run and stopped after it.
TEST_ENV = $(PY) -m helpdesk.embedded_pg exec --name pg-test --fast --unless-up $(TEST_DATABASE_URL) -- \
	env REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL)

test: $(STAMP) chromium wrk slapd dovecot services lint
	$(TEST_ENV) bash -c '$(PY) manage.py makemigrations --check --dry-run && $(PY) -m pytest $(PYTEST_ARGS)'

## make bench: production settings (DEBUG off, gunicorn 4 sync workers) on PostgreSQL + Redis,
## 1,000,000 tickets seeded once into BENCH_DATABASE_URL and reused; writes BENCHMARKS.md/.json.
## make bench-quick: the same harness on 20,000 tickets with 5 s rounds (report in var/bench-quick/).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tierdesk_bench
BENCH_QUICK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tierdesk_bench_quick
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/13
BENCH_AUX_REDIS_URL ?= redis://127.0.0.1:6379/14
BENCH_PORT ?= 8200
BENCH_ARGS ?=
BENCH_COMMON = --redis-url $(BENCH_REDIS_URL) --aux-redis-url $(BENCH_AUX_REDIS_URL) --port $(BENCH_PORT) --connections 32 --rounds 3

bench: $(STAMP) wrk dovecot services
	$(PY) bench/run.py --label full --db-url $(BENCH_DATABASE_URL) --tickets 1000000 --round-seconds 10 \
		$(BENCH_COMMON) --md BENCHMARKS.md --json BENCHMARKS.json $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-live

## make bench-live: 1,000 idle live streams, change → every page, scheduler failover
## (bench/live.py); its section of BENCHMARKS.md is replaced, the rest kept.
BENCH_LIVE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tierdesk_bench_live
BENCH_LIVE_ARGS ?=
bench-live: $(STAMP) services
	$(PY) bench/live.py --db-url $(BENCH_LIVE_DATABASE_URL) --redis-url $(BENCH_REDIS_URL) \
		--broker-url $(BENCH_AUX_REDIS_URL) --port $(BENCH_PORT) --md BENCHMARKS.md \
		--json var/bench-live.json $(BENCH_LIVE_ARGS)

bench-quick: $(STAMP) wrk dovecot services
	$(PY) bench/run.py --label quick --db-url $(BENCH_QUICK_DATABASE_URL) --tickets 20000 --round-seconds 5 \
		$(BENCH_COMMON) --escalation 10000 --md var/bench-quick/BENCHMARKS.md \
		--json var/bench-quick/BENCHMARKS.json $(BENCH_ARGS)

## make soak: bounded mixed load on its own stack (SOAK_ARGS="--minutes 3"; default 10 min).
soak: $(STAMP)
	$(PY) tools/soak.py $(SOAK_ARGS)

## Retake docs/screenshots/ (the README tour) from a freshly seeded demo desk, served as
## `make run` serves it (embedded PostgreSQL in a throwaway var/, no Redis).
screenshots: $(STAMP) chromium
	$(PY) tools/screenshots.py

## make audit: known vulnerabilities in the pinned dependencies (and what they pull in),
## from PyPI's advisory data. pip-audit lives in its own venv, not the project's.
AUDIT_VENV := var/audit-venv
audit: $(STAMP)
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && $(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1; }
	@mkdir -p var
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > var/audit-requirements.txt
	$(AUDIT_VENV)/bin/pip-audit --strict --desc -r var/audit-requirements.txt

clean:
	rm -rf var/ .pytest_cache
