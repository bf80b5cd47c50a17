"""gunicorn settings, read from the same environment variables as the site.

Each worker loads the Keras model once, before it accepts requests, and its
threads share that one instance (see recognizer/recognition/predictor.py).
"""

from mnistsite.env import env_int, env_str

bind = f"{env_str('MNIST_HOST', '127.0.0.1')}:{env_int('MNIST_PORT', 8000, minimum=1)}"
workers = env_int("GUNICORN_WORKERS", 2, minimum=1)
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=0)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=0)
keepalive = 5
# An empty GUNICORN_ACCESS_LOG turns the access log off (the load test does).
accesslog = env_str("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# Recycle workers now and then so a slow leak in a native library cannot grow forever.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 0, minimum=0)
max_requests_jitter = max_requests // 10


def post_worker_init(worker):
    from recognizer.recognition.predictor import warm_up
    from recognizer.storage import records
    from recognizer.storage.spool import start_replayer

    warm_up()
    try:
        records.cassandra_version()  # connect now, not on the first request
    except records.StorageUnavailable:
        pass  # answered requests are spooled until Cassandra is back
    # Replays records left in the spool by an earlier outage, then keeps watching.
    start_replayer()
