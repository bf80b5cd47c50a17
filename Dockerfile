# Digit recognizer: Django + gunicorn + CPU TensorFlow, talking to Cassandra.
#
#   docker compose up --build          (see docker-compose.yml and README "Run with Docker")
#   docker build -t mnistsite .        (the image alone; it needs a Cassandra to be healthy)
#
# Stages: builder (venv + collected static files) -> base (slim runtime, non-root)
#         -> train (used by the compose `train` profile) and web (the default, last).
# tensorflow-cpu ships x86_64 wheels only, so the image is linux/amd64.

# ---------------------------------------------------------------------------
# builder: the virtualenv and the static files, with nothing else kept
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /app
# Requirements first, so code changes do not reinstall TensorFlow.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Files written with a strict umask (train_model writes the model 0600) must stay
# readable by the unprivileged runtime user; nothing under /app is writable by it.
# The secret key here is a throwaway that only exists for this one command: it
# is not an ENV or ARG, so it is in no layer's config and not in the final image.
RUN chmod -R a+rX,go-w /app \
    && chmod 0755 scripts/start-web \
    && DJANGO_SECRET_KEY=build-time-dummy-used-only-by-collectstatic \
       DJANGO_DEBUG=false \
       python manage.py collectstatic --noinput -v 0

# ---------------------------------------------------------------------------
# base: the slim runtime shared by the web server and the training job
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS base

# COLLECTSTATIC=false: static files were collected above, into /app/staticfiles.
# MNIST_HOST=0.0.0.0: listen on the container's interface, not only loopback.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python \
    COLLECTSTATIC=false \
    MNIST_HOST=0.0.0.0 \
    MNIST_PORT=8000 \
    MNIST_VAR_DIR=/app/var

# Debian's nginx: scripts/start-web runs it as the app user in front of gunicorn's
# unix socket, with its own config under MNIST_VAR_DIR; the package's own service
# is kept from starting (policy-rc.d), there is no init system here anyway.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
    && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends nginx=1.22.1-9+deb12u11 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-log-init \
       --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
# The only writable place: the SQLite file and the spool (a volume in compose).
RUN install -d -o app -g app -m 0750 /app/var /app/var/spool

USER 10001:10001
EXPOSE 8000

# /healthz answers 200 only when the model is loaded and Cassandra answers.
# No curl in slim images: Python's urllib. The Host header is the first of
# DJANGO_ALLOWED_HOSTS (so Django accepts it), and X-Forwarded-Proto keeps
# DJANGO_HTTPS=true from redirecting the probe; any error or non-2xx exits 1.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; hosts = [h.strip().lstrip('.') for h in os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',') if h.strip() not in ('', '*')]; u.urlopen(u.Request('http://127.0.0.1:%s/healthz' % os.environ.get('MNIST_PORT', '8000'), headers={'Host': (hosts or ['localhost'])[0], 'X-Forwarded-Proto': 'https'}), timeout=8)"]

# The same start-up script as `make run`: migrate, sync_cassandra, ensure_admin,
# then nginx on 0.0.0.0:8000 (the exposed port) in front of gunicorn's unix socket.
CMD ["scripts/start-web"]

# ---------------------------------------------------------------------------
# train: one-shot training job (docker compose --profile train run --rm train);
# ml_models/ is mounted from the host, so it needs no model in the image.
# ---------------------------------------------------------------------------
FROM base AS train

HEALTHCHECK NONE
CMD ["python", "manage.py", "train_model", "--data", "/data/mnist", "--output", "/app/ml_models/mnist_cnn.keras"]

# ---------------------------------------------------------------------------
# web: the default target. Refuse to build an image whose workers could never
# start: gunicorn loads the model before it serves anything.
# ---------------------------------------------------------------------------
FROM base AS web

RUN test -s ml_models/mnist_cnn.keras \
    || { echo "ml_models/mnist_cnn.keras is missing: train it first with" \
              "'docker compose --profile train run --rm train'" >&2; exit 1; }

USER 10001:10001
CMD ["scripts/start-web"]
