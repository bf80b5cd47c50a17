# Digit recognizer: Django + gunicorn + CPU TensorFlow, talking to Cassandra.
#
#   docker compose up --build          (see docker-compose.yml and README "Run with Docker")
#   docker build -t mnistsite .        (the image alone; it needs a Cassandra to be healthy)
#
# Stages: builder (venv + collected static files) -> base (slim runtime, non-root)
#         -> train (the compose `train` profile), front (the compose `front`
#         service: nginx) and web (the default, last: gunicorn, and nginx too when
#         run alone with `docker run`).
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
    && chmod 0755 scripts/start-web scripts/start-app scripts/start-front scripts/healthcheck \
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

# Debian's nginx, run as the app user with its own config under MNIST_VAR_DIR
# (scripts/start-front); the package's own service is kept from starting
# (policy-rc.d), there is no init system here anyway.
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
# The writable places: the SQLite file and the spool (a volume in compose), and
# gunicorn's socket folder (a volume that compose shares with nginx's service).
RUN install -d -o app -g app -m 0750 /app/var /app/var/spool \
    && install -d -o app -g app -m 0700 /app/run

USER 10001:10001
EXPOSE 8000

# /healthz answers 200 only when the model is loaded and Cassandra answers;
# scripts/healthcheck asks it through nginx on MNIST_PORT (`--socket`: straight
# to gunicorn, for the compose `web` service, which has no port).
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "scripts/healthcheck"]

# The same start-up script as `make run`: migrate, sync_cassandra, ensure_admin,
# gunicorn on a unix socket, and nginx on 0.0.0.0:8000 (the exposed port) in front.
CMD ["scripts/start-web"]

# ---------------------------------------------------------------------------
# train: one-shot training job (docker compose --profile train run --rm train);
# ml_models/ is mounted from the host, so it needs no model in the image.
# ---------------------------------------------------------------------------
FROM base AS train

HEALTHCHECK NONE
CMD ["python", "manage.py", "train_model", "--data", "/data/mnist", "--output", "/app/ml_models/mnist_cnn.keras"]

# ---------------------------------------------------------------------------
# front: nginx alone, for the compose `front` service, in front of the `web`
# service's gunicorn socket (a shared volume). The same runtime as web (its
# layers are shared, so it costs no disk): nginx's config is rendered from the
# site's own settings by manage.py nginx_config, and it serves /static/ itself.
# ---------------------------------------------------------------------------
FROM base AS front

CMD ["scripts/start-front"]

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
