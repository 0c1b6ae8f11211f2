"""Running calls at the same instant, for the tests that prove a write happens once."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def race(calls: list[Callable[[], object]], *, timeout: float = 60) -> list:
    """Run the calls at the same instant in threads, each on its own connection; return
    their results in order, an exception a call raised standing in for its result."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # surfaced by the caller's assertions
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results
