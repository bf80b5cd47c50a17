"""gunicorn settings, read from the same environment variables as the site.

Each worker loads the Keras model once, before it accepts requests, and its
threads share that one instance (see recognizer/recognition/predictor.py).
"""

import os

bind = f"{os.environ.get('MNIST_HOST', '127.0.0.1')}:{os.environ.get('MNIST_PORT', '8000')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# An empty GUNICORN_ACCESS_LOG turns the access log off (the load test does).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# Recycle workers now and then so a slow leak in a native library cannot grow forever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10


def post_worker_init(worker):
    from recognizer.recognition.predictor import warm_up
    from recognizer.storage import records
    from recognizer.storage.spool import start_replayer

    warm_up()
    try:
        records.server_versions()  # connect now, not on the first request
    except records.StorageUnavailable:
        pass  # answered requests are spooled until Cassandra is back
    # Replays records left in the spool by an earlier outage, then keeps watching.
    start_replayer()
