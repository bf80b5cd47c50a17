"""A steady stream of predictions against a running site, for tests that change
something under load (a Cassandra outage, a model switch)."""

import base64
import json
import threading
import time
import urllib.error
import urllib.request

from recognizer.tests.support.factories import draw_digit


class Stream(threading.Thread):
    """POSTs a drawing every few milliseconds and remembers every answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/api/predictions/"
        self.body = json.dumps(
            {"image": "data:image/png;base64," + base64.b64encode(draw_digit("1")).decode()}
        ).encode()
        self.answers: list[dict] = []
        self.failures: list[str] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            request = urllib.request.Request(
                self.url, self.body, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self.answers.append(json.load(response))
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(str(exc))
            time.sleep(0.02)
