"""Settings for the digit recognition site, read from environment variables.

Every variable is listed, with its default, in README.md ("Configuration").
Defaults are safe for a developer's machine; production sets the rest
(see production.env.example).
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

from cassandra import ConsistencyLevel
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from django.core.exceptions import ImproperlyConfigured

from mnistsite.env import env_bool, env_float, env_int, env_list, env_rate_limit, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# A development key: `manage.py check --deploy` flags it (it starts with
# "django-insecure-"), so production must set DJANGO_SECRET_KEY.
SECRET_KEY = env_str(
    "DJANGO_SECRET_KEY", "django-insecure-development-key-do-not-use-in-production"
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Our app first so that its sync_cassandra command (which also creates the
    # secondary tables) takes precedence over django_cassandra_engine's.
    "recognizer",
    "recognizer.registry",
    "django_cassandra_engine",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
]

MIDDLEWARE = [
    # First: everything after it (login throttling, logs) sees the real client address.
    "recognizer.web.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "recognizer.web.middleware.ContentSecurityPolicyMiddleware",
    "recognizer.web.middleware.RequestLimitsMiddleware",
    "recognizer.web.middleware.JsonApiMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "recognizer.web.middleware.StorageOutageMiddleware",
    "recognizer.web.middleware.ImageBudgetMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mnistsite.urls"
WSGI_APPLICATION = "mnistsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recognizer.web.context_processors.limits",
            ],
        },
    },
]

# --- Storage -----------------------------------------------------------------
# Django's own tables (auth, sessions, admin log) live in a small relational
# database; prediction records live in Cassandra, the second database.
VAR_DIR = Path(env_str("MNIST_VAR_DIR", str(BASE_DIR / "var")))
# A fresh MNIST_VAR_DIR is created here: SQLite cannot create the folder of its
# file, and "unable to open database file" says nothing about why.
try:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"MNIST_VAR_DIR is {str(VAR_DIR)!r}, which does not exist and cannot be created "
        f"({exc.strerror}): point it at a folder this user may write to"
    ) from None

CASSANDRA_HOSTS = env_list("CASSANDRA_HOSTS", "127.0.0.1")
CASSANDRA_PORT = env_int("CASSANDRA_PORT", 9042, minimum=1)
CASSANDRA_KEYSPACE = env_str("CASSANDRA_KEYSPACE", "mnist")
CASSANDRA_REPLICATION_FACTOR = env_int("CASSANDRA_REPLICATION_FACTOR", 1, minimum=1)
CASSANDRA_CONSISTENCY = env_str("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM").upper()
CASSANDRA_CONNECT_TIMEOUT = env_float("CASSANDRA_CONNECT_TIMEOUT", 5.0, minimum=0.1)
CASSANDRA_REQUEST_TIMEOUT = env_float("CASSANDRA_REQUEST_TIMEOUT", 5.0, minimum=0.1)
# The datacenter whose nodes coordinate requests; empty: the first contact point's.
CASSANDRA_LOCAL_DC = env_str("CASSANDRA_LOCAL_DC") or None

if CASSANDRA_CONSISTENCY not in ConsistencyLevel.name_to_value:
    raise ImproperlyConfigured(
        f"CASSANDRA_CONSISTENCY must be one of "
        f"{', '.join(sorted(ConsistencyLevel.name_to_value))}, not {CASSANDRA_CONSISTENCY!r}"
    )
if not CASSANDRA_HOSTS:
    raise ImproperlyConfigured("CASSANDRA_HOSTS must name at least one Cassandra host")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("DJANGO_SQLITE_PATH", str(VAR_DIR / "django.sqlite3")),
    },
    "cassandra": {
        "ENGINE": "django_cassandra_engine",
        "NAME": CASSANDRA_KEYSPACE,
        "HOST": ",".join(CASSANDRA_HOSTS),
        "USER": env_str("CASSANDRA_USER"),
        "PASSWORD": env_str("CASSANDRA_PASSWORD"),
        "TEST": {"NAME": env_str("CASSANDRA_TEST_KEYSPACE", f"test_{CASSANDRA_KEYSPACE}")},
        "OPTIONS": {
            "replication": {
                "strategy_class": "SimpleStrategy",
                "replication_factor": CASSANDRA_REPLICATION_FACTOR,
            },
            "connection": {
                "port": CASSANDRA_PORT,
                "connect_timeout": CASSANDRA_CONNECT_TIMEOUT,
                "control_connection_timeout": CASSANDRA_CONNECT_TIMEOUT,
                "consistency": ConsistencyLevel.name_to_value[CASSANDRA_CONSISTENCY],
                "protocol_version": 5,
                # Connect on first use, so that the site and manage.py commands
                # that do not need Cassandra start even when it is down.
                "lazy_connect": True,
                "retry_connect": True,
                # Find a restarted server within seconds, not the driver's
                # default back-off of up to ten minutes.
                "reconnection_policy": ExponentialReconnectionPolicy(0.5, 5.0),
                # Send each request to a replica of its partition (one hop
                # less), in the local datacenter; with a node down, the
                # driver moves on to the next replica.
                "load_balancing_policy": TokenAwarePolicy(
                    DCAwareRoundRobinPolicy(local_dc=CASSANDRA_LOCAL_DC)
                ),
            },
            "session": {"default_timeout": CASSANDRA_REQUEST_TIMEOUT},
        },
    },
}
DATABASE_ROUTERS = ["recognizer.storage.routers.CassandraRouter"]

# Records Cassandra could not take wait here, fsynced, until they are replayed.
SPOOL_DIR = Path(env_str("MNIST_SPOOL_DIR", str(VAR_DIR / "spool")))
SPOOL_REPLAY_INTERVAL = env_float("MNIST_SPOOL_REPLAY_SECONDS", 5.0, minimum=0.1)
# After each failed replay the wait doubles, up to this cap.
SPOOL_REPLAY_MAX_INTERVAL = env_float("MNIST_SPOOL_REPLAY_MAX_SECONDS", 60.0, minimum=0.1)
# After a failed write, spool directly for this long instead of making every
# request wait for Cassandra to fail again; the replayer keeps probing.
CASSANDRA_RETRY_AFTER = env_float("CASSANDRA_RETRY_AFTER", 2.0, minimum=0.0)
# The per-day counters of the admin's chart are summed in each worker and sent
# this often (one counter update per day and model version, not one per record).
DAY_COUNT_FLUSH_INTERVAL = env_float("MNIST_DAY_COUNT_FLUSH_SECONDS", 1.0, minimum=0.1)
# Partitions per hour of records (README, "Storage design"). Used when
# sync_cassandra creates the records table, which keeps it in its comment: a
# record's shard must never change, so the count of an existing table does not.
CASSANDRA_SHARDS = env_int("CASSANDRA_SHARDS", 16, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- The model -----------------------------------------------------------------
MODEL_PATH = Path(env_str("MNIST_MODEL_PATH", str(BASE_DIR / "ml_models" / "mnist_cnn.keras")))
# The number reader that counts the digits of touching groups (optional; see
# recognizer.recognition.number_reader).
READER_PATH = Path(
    env_str("MNIST_READER_PATH", str(BASE_DIR / "ml_models" / "number_reader.keras"))
)
# Model versions (a folder each) and the active-version pointer every worker watches.
MODEL_REGISTRY_DIR = Path(env_str("MNIST_MODEL_DIR", str(VAR_DIR / "models")))
MODEL_POLL_SECONDS = env_float("MNIST_MODEL_POLL_SECONDS", 2.0, minimum=0.1)
# Corrections one client (session or address) may make per hour; admins are not limited.
CORRECTIONS_PER_HOUR = env_int("MNIST_CORRECTIONS_PER_HOUR", 60, minimum=1)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every worker on this machine (and kept in the var volume in Docker),
    # so the correction limit holds across processes.
    "corrections": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "corrections"),
    },
}
MNIST_DATA_DIR = Path(env_str("MNIST_DATA", str(BASE_DIR.parent / "shared" / "datasets" / "mnist")))
# Doubtful digits (best digit under this share) are read again in changed copies
# (recognizer.recognition.second_look); 0 turns it off.
SECOND_LOOK_BELOW = env_float("MNIST_SECOND_LOOK_BELOW", 0.9, minimum=0.0)
# A second digit model asked about doubtful digits in the second look (optional; see
# recognizer.recognition.second_opinion).
SECOND_OPINION_PATH = Path(
    env_str("MNIST_SECOND_OPINION_PATH", str(BASE_DIR / "ml_models" / "second_opinion.keras"))
)
# TensorFlow's thread pools per process (0: TensorFlow picks); one each suits
# several gunicorn threads sharing one model (README, "Performance").
TF_INTRA_THREADS = env_int("MNIST_TF_INTRA_THREADS", 1, minimum=0)
TF_INTER_THREADS = env_int("MNIST_TF_INTER_THREADS", 1, minimum=0)

# --- Limits on what users send -------------------------------------------------
MAX_UPLOAD_BYTES = env_int("MNIST_MAX_UPLOAD_BYTES", 2 * 1024 * 1024, minimum=1024)
MAX_IMAGE_PIXELS = env_int("MNIST_MAX_IMAGE_PIXELS", 16_000_000, minimum=784)
# Whole request bodies may be a little larger than the image, for base64 and
# multipart overhead; anything larger is refused with 413 before it is read.
MAX_REQUEST_BYTES = env_int("MNIST_MAX_REQUEST_BYTES", MAX_UPLOAD_BYTES * 2, minimum=2048)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# Uploads stay in memory (they are at most MAX_REQUEST_BYTES): nothing a user
# sends is ever written to disk, under their filename or any other.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# Images whose decoded pixels would take more bytes than this (many pixels,
# 16-bit, a huge WebP...) are decoded one at a time per worker, at low priority;
# the others wait EXPENSIVE_IMAGE_WAIT seconds for their turn (none by default:
# a waiting request holds a gunicorn thread), then get 503 and Retry-After
# (recognizer/recognition/image_budget.py).
EXPENSIVE_IMAGE_BYTES = env_int("MNIST_EXPENSIVE_IMAGE_BYTES", 8_000_000, minimum=0)
EXPENSIVE_IMAGE_WAIT = env_float("MNIST_EXPENSIVE_IMAGE_WAIT", 0.0, minimum=0.0)

# --- The front door (nginx, generated by `manage.py nginx_config`) ----------------
# nginx listens here; gunicorn sits behind it on GUNICORN_SOCKET.
LISTEN_HOST = env_str("MNIST_HOST", "127.0.0.1")
LISTEN_PORT = env_int("MNIST_PORT", 8000, minimum=1)
# "-" is standard output; empty turns nginx's access log off (the load test does).
NGINX_ACCESS_LOG = env_str("NGINX_ACCESS_LOG", "-")
# Predictions and corrections (every POST, PUT, PATCH and DELETE) per client
# address, enforced by nginx's limit_req, which all gunicorn workers sit behind.
RATE_LIMIT = env_rate_limit("MNIST_RATE_LIMIT", "20r/s burst=40")
# gunicorn listens on this unix socket; only nginx (the same user) can open it,
# which is why the app trusts the X-Forwarded-For that arrives through it.
GUNICORN_SOCKET = Path(env_str("GUNICORN_SOCKET", str(VAR_DIR / "run" / "gunicorn.sock")))
# Proxies in front of nginx (a TLS terminator, a load balancer) whose
# X-Forwarded-For and X-Forwarded-Proto nginx believes: addresses or networks.
try:
    TRUSTED_PROXIES = [
        str(ipaddress.ip_network(item, strict=False))
        for item in env_list("MNIST_TRUSTED_PROXIES", "")
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"MNIST_TRUSTED_PROXIES: {exc}") from None

# --- Static files (whitenoise) ---------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Internationalisation ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ------------------------------------------------------------------------
# HTTPS-only settings are switched on together by DJANGO_HTTPS=true (behind a
# TLS-terminating proxy that sets X-Forwarded-Proto).
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# No inline script anywhere; thumbnails are inline PNG data URLs.
CONTENT_SECURITY_POLICY = env_str(
    "DJANGO_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Password guessing on /admin/ (django-axes): after this many failed logins
# from one client address, that address is refused with 429 for a while.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("MNIST_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MNIST_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "recognizer.web.errors.login_locked_out"
# The address comes from REMOTE_ADDR only, which TrustedProxyMiddleware fills
# from nginx's header; never from a header a client could write itself.
AXES_CLIENT_IP_CALLABLE = "recognizer.web.middleware.client_address"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # The driver logs each failed connection attempt with a traceback; the
        # site reports Cassandra outages itself (health checks, error pages).
        "cassandra": {"level": "CRITICAL"},
        # django-axes announces itself at every start; lock-outs are warnings.
        "axes": {"level": "WARNING"},
    },
}
