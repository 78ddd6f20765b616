"""HTTP reads that a mirror cannot stretch or redirect out of bounds.

``requests``' ``timeout`` bounds each socket read, so a mirror that sends one byte a
second holds a transfer for as long as it likes. Here every request has an overall
deadline, ``timeout`` plus its size at the slowest rate accepted, and bodies are read
with ``read1`` (whatever has arrived), so the deadline is checked as bytes come in.
Redirects are followed only to http(s) addresses; the address finally read is kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import requests

CHUNK = 1 << 14  # small, so a dropped connection loses little


class TooSlow(requests.Timeout):
    """The request passed its overall deadline; what arrived before it is kept."""


class NotHttp(requests.RequestException):
    """A redirect led to an address that is not http(s) (``file://``, say)."""


def deadline(timeout: float, nbytes: int, min_rate: float) -> float:
    """When a request for ``nbytes`` must be done: ``timeout`` seconds to start, then
    ``min_rate`` bytes a second (a monotonic clock reading)."""
    return time.monotonic() + timeout + nbytes / min_rate


def get(
    session: requests.Session | None, url: str, *, headers: dict | None, timeout: float
) -> requests.Response:
    """A streamed GET (the caller closes it); a redirect to a non-HTTP address raises
    :class:`NotHttp` instead of ``requests``' adapter error."""
    getter = session.get if session is not None else requests.get
    try:
        return getter(url, headers=headers or {}, stream=True, timeout=timeout)
    except requests.exceptions.InvalidSchema as e:
        raise NotHttp(f"redirected to an address that is not http(s) ({e})") from None


def body(resp: requests.Response, until: float, *, limit: int | None = None) -> Iterator[bytes]:
    """The response's bytes as they arrive, at most ``limit``; :class:`TooSlow` once the
    clock passes ``until``."""
    taken = 0
    while limit is None or taken < limit:
        if time.monotonic() > until:
            raise TooSlow("not done by its deadline (dump.timeout + size / dump.min_rate)")
        want = CHUNK if limit is None else min(CHUNK, limit - taken)
        try:
            chunk = resp.raw.read1(want, decode_content=True)
        except Exception as e:  # urllib3's own errors: a dropped or broken transfer
            raise requests.ConnectionError(str(e)) from None
        if not chunk:
            return
        taken += len(chunk)
        yield chunk


def final_url(resp: requests.Response, url: str) -> str | None:
    """The address that answered, when a redirect led away from ``url``."""
    return resp.url if resp.url and resp.url != url else None
