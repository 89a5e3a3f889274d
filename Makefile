# pypod: `make run` installs everything and runs a container; `make test` runs the tests.
SHELL := /bin/bash
PYTHON := /usr/bin/python3
VENV := .venv
DEB_PACKAGES := runc crun conmon catatonit busybox-static golang-github-containers-common \
	skopeo umoci netavark aardvark-dns iptables iproute2 util-linux python3-venv podman
BENCH_ARGS ?=

.PHONY: setup deps host venv run test bench

setup: deps host venv
	$(VENV)/bin/python -m compileall -q src

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

host:
	@bash scripts/host-setup.sh

venv: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml scripts/write-launcher.py | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	$(VENV)/bin/python scripts/write-launcher.py $(VENV)/bin/pypod
	touch $@

run: setup
	bash scripts/build-busybox-image.sh
	bash scripts/run-demo.sh

test: setup
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --reruns 1 tests

bench: setup
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)
