"""Placeholder: the periodic reconciliation pull (being written)."""

from __future__ import annotations

import datetime as dt


def pulls_sweep(now: dt.datetime) -> int:
    return 0
