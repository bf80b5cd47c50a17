# Two commands: `make run` serves the site, `make test` runs every test.
# Both set up what they need (virtualenv, requirements, Cassandra, nginx,
# Chromium, Docker) and can be run again safely.

PYTHON3 ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHON := $(abspath $(PY))

.PHONY: run test docker-test install install-test cassandra nginx chromium fonts docker lint bench bench-accuracy loadtest clean

run: install cassandra nginx
	scripts/start-web

test: install-test cassandra nginx chromium fonts docker
	$(PY) -m ruff check .
	$(PY) -m pytest

# The image built from the Dockerfile and the compose stack, run for real
# (recognizer/tests/test_docker_stack.py); starts dockerd if none answers.
docker-test: install-test docker
	$(PY) -m pytest -m docker

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# A venv left half made (no pip) by an interrupted run is made again.
$(VENV)/.installed: requirements.txt
	$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON3) -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

cassandra:
	scripts/cassandra start

nginx:
	scripts/install-nginx

chromium:
	scripts/install-chromium

# Letters for the "no digit" training data are rendered from these Debian fonts
# (recognizer/recognition/nondigits.py); installed only when missing.
FONT_PACKAGES := fonts-dejavu-core fonts-liberation
fonts:
	@dpkg -s $(FONT_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get install -y --no-install-recommends $(FONT_PACKAGES) || \
		  sudo apt-get install -y --no-install-recommends $(FONT_PACKAGES); }

docker:
	scripts/docker-daemon install

lint: install-test
	$(PY) -m ruff check .

bench: install
	$(PY) scripts/bench_predictor.py

bench-accuracy: install
	$(PY) scripts/bench_accuracy.py

loadtest: install cassandra nginx
	$(PY) scripts/loadtest

clean:
	rm -rf staticfiles test-artifacts .pytest_cache
