"""Strict helpers that read settings from environment variables.

A typo in a deployment variable should stop the process with a clear message,
not silently fall back to a default (``DEBUG=ture`` must not mean False).
"""

import math
import os
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_number(name: str, default, minimum, parse, kind: str):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    return _env_number(name, default, minimum, int, "a whole number")


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    return _env_number(name, default, minimum, float, "a number")


def env_list(name: str, default: str = "") -> list[str]:
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class RateLimit:
    """Requests per second or per minute for one client, and how many may come at once."""

    rate: int
    per: str  # "s" or "m", as nginx writes it: 20r/s, 300r/m
    burst: int

    @property
    def retry_after(self) -> int:
        """Whole seconds until one more request is allowed once the burst is spent."""
        period = 1 if self.per == "s" else 60
        return max(1, math.ceil(period / self.rate))

    def __str__(self) -> str:
        return f"{self.rate}r/{self.per} burst={self.burst}"


_RATE_LIMIT = re.compile(
    r"^\s*(?P<rate>\d+)\s*r/(?P<per>[sm])\s*(?:burst\s*=\s*(?P<burst>\d+))?\s*$"
)


def env_rate_limit(name: str, default: str) -> RateLimit | None:
    """``20r/s burst=40`` (nginx's own notation), or ``off`` for no limit (None).
    Unset or empty means the default (compose passes an unset variable as empty)."""
    raw = os.environ.get(name, "").strip() or default
    if raw.strip().lower() == "off":
        return None
    match = _RATE_LIMIT.match(raw)
    if match is None or int(match["rate"]) < 1:
        raise ImproperlyConfigured(
            f"{name} must look like '20r/s burst=40' or '300r/m', or be 'off', not {raw!r}"
        )
    return RateLimit(int(match["rate"]), match["per"], int(match["burst"] or 0))
