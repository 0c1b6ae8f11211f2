"""`aftersales worker`: the beat runs every registered sweep; `--once` also runs queued tasks."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from aftersales.core.beat import BEAT_JOBS, BeatJob, beat_once
from aftersales.sla.models import Timer, TimerKind, TimerState
from aftersales.tests import factories as f


def test_every_app_registers_its_sweep():
    assert "timers" in {job.name for job in BEAT_JOBS}


@pytest.mark.django_db
def test_a_failing_job_is_logged_and_the_others_still_run(monkeypatch, caplog):
    ran = []
    monkeypatch.setattr(
        "aftersales.core.beat.BEAT_JOBS",
        [
            BeatJob("broken", lambda now: 1 / 0),
            BeatJob("fine", lambda now: ran.append(now) or 7),
        ],
    )
    now = timezone.now()
    assert beat_once(now) == {"broken": None, "fine": 7}
    assert ran == [now]
    assert "beat job broken failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_worker_once_fires_the_due_timers(order):
    case = f.case(order, case_type="refund_only")
    timer = Timer.objects.get(case=case, kind=TimerKind.FIRST_RESPONSE)
    Timer.objects.filter(pk=timer.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    timer.refresh_from_db()
    assert timer.state == TimerState.FIRED
    assert case.events.filter(kind="sla_breached").count() == 1
    assert "timers: " in out.getvalue()


def test_worker_refuses_a_bad_interval():
    with pytest.raises(CommandError, match="--interval must be above 0"):
        call_command("worker", "--interval", "0", stdout=io.StringIO())
