"""gunicorn settings, read from the same environment variables as the site.

Each worker loads the Keras model once, before it accepts requests, and its
threads share that one instance (see recognizer/recognition/predictor.py).
"""

import os

from mnistsite.env import env_int, env_str

# scripts/start-web puts nginx on MNIST_HOST:MNIST_PORT and gunicorn behind it on
# a unix socket (GUNICORN_SOCKET); gunicorn started by hand listens on the port.
_socket = env_str("GUNICORN_SOCKET")
bind = (
    f"unix:{_socket}"
    if _socket
    else f"{env_str('MNIST_HOST', '127.0.0.1')}:{env_int('MNIST_PORT', 8000, minimum=1)}"
)
if _socket:
    # gunicorn's control socket (for gunicornc) defaults to one per user in
    # ~/.gunicorn: keep it with this instance's socket so instances never share it.
    control_socket = os.path.join(os.path.dirname(_socket), "gunicorn.ctl")
workers = env_int("GUNICORN_WORKERS", 2, minimum=1)
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=0)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=0)
keepalive = 5
# nginx's access log (NGINX_ACCESS_LOG) is the complete one: it also has the
# requests nginx answers itself (429, 413). GUNICORN_ACCESS_LOG=- adds gunicorn's.
accesslog = env_str("GUNICORN_ACCESS_LOG", "") or None
errorlog = "-"
# Recycle workers now and then so a slow leak in a native library cannot grow forever.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 0, minimum=0)
max_requests_jitter = max_requests // 10
# No control socket (gunicornc): nothing here uses it, its default place is
# $HOME/.gunicorn/, which is read-only in the image (home /app), and servers
# started side by side (tests) would fight over that one path.
control_socket_disable = True


def post_worker_init(worker):
    from recognizer.recognition.predictor import warm_up
    from recognizer.registry.watcher import start_watcher
    from recognizer.storage import records
    from recognizer.storage.spool import start_replayer

    warm_up()
    try:
        records.server_versions()  # connect now, not on the first request
    except records.StorageUnavailable:
        pass  # answered requests are spooled until Cassandra is back
    # Replays records left in the spool by an earlier outage, then keeps watching.
    start_replayer()
    # Swaps in a newly promoted model version within MNIST_MODEL_POLL_SECONDS.
    start_watcher()
