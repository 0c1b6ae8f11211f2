"""Delivering the outbox: claim, send, mark; backoff and dead letters; leases of dead workers.
The clock is passed in, never slept on; the receiver is a real HTTP server that checks the
signature the way a merchant's system would."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest

from aftersales.notify import delivery
from aftersales.notify.delivery import LEASE, MAX_ATTEMPTS, outbox_deliver, outbox_sweep
from aftersales.notify.models import Outbox, WebhookEndpoint
from aftersales.notify.tasks import deliver_outbox
from aftersales.tests import factories as f

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
SECRET = "s3cr3t"


def _verified(request, secret: str = SECRET) -> bool:
    signed = request.headers["x-aftersales-timestamp"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["x-aftersales-signature"])


@pytest.fixture
def receiver(fake_server):
    """A merchant's webhook consumer: 401 on a bad signature, else the next scripted status."""
    statuses: list[int] = []

    def answer(request):
        if not _verified(request):
            return 401, {"error": "bad signature"}
        return (statuses.pop(0) if statuses else 200), {"ok": True}

    server = fake_server(answer)
    server.statuses = statuses
    return server


@pytest.fixture
def hook_row(shop, receiver):
    """One webhook message of a filed case, due at T0."""
    WebhookEndpoint.objects.create(
        shop=shop, url=receiver.url + "/hooks", events=["created"], secret=SECRET
    )
    case = f.case(f.order(f.channel(shop)))
    row = Outbox.objects.get(case=case, channel="webhook")
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=T0, created_at=T0)
    row.refresh_from_db()
    return row


def test_a_due_message_is_sent_signed_and_marked(hook_row, receiver):
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0) == "sent"
    hook_row.refresh_from_db()
    assert (hook_row.state, hook_row.attempts, hook_row.sent_at) == ("sent", 1, T0)
    assert (hook_row.lease_until, hook_row.last_error) == (None, "")
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks")
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-aftersales-event"] == "created"
    assert request.headers["x-aftersales-delivery"] == str(hook_row.delivery_id)
    assert request.headers["x-aftersales-timestamp"] == str(int(T0.timestamp()))
    assert _verified(request)
    assert json.loads(request.body) == hook_row.payload
    # Sent is final: neither a second attempt nor a sweep sends it again.
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0 + dt.timedelta(days=1)) is None
    assert outbox_sweep(now=T0 + dt.timedelta(days=1)) == 0
    assert len(receiver.requests) == 1


def test_failures_back_off_exponentially_then_the_message_is_dead(hook_row, receiver):
    receiver.statuses.extend([503] * MAX_ATTEMPTS)
    waits = []
    now = T0
    for attempt in range(1, MAX_ATTEMPTS):
        # Not due a second early.
        assert outbox_deliver(outbox_id=hook_row.pk, now=now - dt.timedelta(seconds=1)) is None
        assert outbox_deliver(outbox_id=hook_row.pk, now=now) == "retry"
        hook_row.refresh_from_db()
        assert (hook_row.state, hook_row.attempts) == ("pending", attempt)
        error = f'attempt {attempt}: webhook answered HTTP 503: {{"ok": true}}'
        assert hook_row.last_error == error
        waits.append(int((hook_row.next_attempt_at - now).total_seconds()))
        now = hook_row.next_attempt_at
    assert waits == [60, 120, 240, 480, 960, 1920, 3600]
    assert outbox_deliver(outbox_id=hook_row.pk, now=now) == "dead"
    hook_row.refresh_from_db()
    assert (hook_row.state, hook_row.attempts, hook_row.sent_at) == ("dead", 8, None)
    assert hook_row.last_error.startswith("attempt 8: webhook answered HTTP 503")
    assert outbox_sweep(now=now + dt.timedelta(days=30)) == 0
    assert len(receiver.requests) == MAX_ATTEMPTS
    # Every attempt carried the same delivery id.
    assert {r.headers["x-aftersales-delivery"] for r in receiver.requests} == {
        str(hook_row.delivery_id)
    }


def test_a_refusal_is_dead_at_once(hook_row, receiver):
    WebhookEndpoint.objects.update(secret="rotated-on-our-side")
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0) == "dead"
    hook_row.refresh_from_db()
    assert (hook_row.state, hook_row.attempts) == ("dead", 1)
    assert hook_row.last_error == 'attempt 1: webhook answered HTTP 401: {"error": "bad signature"}'


def test_an_unreachable_receiver_is_retried(hook_row, receiver):
    receiver.stop()
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0) == "retry"
    hook_row.refresh_from_db()
    assert hook_row.next_attempt_at == T0 + dt.timedelta(minutes=1)
    assert hook_row.last_error.startswith("attempt 1: POST 127.0.0.1:")
    receiver.start()  # a new port: the endpoint moves with it
    WebhookEndpoint.objects.update(url=receiver.url + "/hooks")
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0 + dt.timedelta(minutes=1)) == "sent"


def test_a_dead_workers_lease_runs_out_and_the_same_delivery_id_goes_again(hook_row, receiver):
    # A worker claimed the row and died before marking it (it may or may not have sent it).
    claimed = delivery._claim(hook_row.pk, T0)
    assert (claimed.state, claimed.attempts, claimed.lease_until) == ("sending", 1, T0 + LEASE)
    assert delivery._claim(hook_row.pk, T0) is None  # nobody else takes a held row
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0 + LEASE - dt.timedelta(seconds=1)) is None
    assert outbox_sweep(now=T0 + LEASE - dt.timedelta(seconds=1)) == 0
    assert receiver.requests == []

    assert outbox_sweep(now=T0 + LEASE) == 1
    hook_row.refresh_from_db()
    assert (hook_row.state, hook_row.attempts, hook_row.sent_at) == ("sent", 2, T0 + LEASE)
    [request] = receiver.requests
    assert request.headers["x-aftersales-delivery"] == str(hook_row.delivery_id)


def test_a_late_worker_does_not_overwrite_the_one_that_took_over(hook_row, receiver):
    stale = delivery._claim(hook_row.pk, T0)
    assert outbox_deliver(outbox_id=hook_row.pk, now=T0 + LEASE) == "sent"
    # The first worker wakes up and reports a failure: the row stays sent.
    error = delivery.DeliveryError("timeout")
    assert delivery._mark_failed(stale, T0 + LEASE, error) is None
    hook_row.refresh_from_db()
    assert (hook_row.state, hook_row.attempts) == ("sent", 2)


def test_the_sweep_delivers_every_due_row_and_only_those(shop, receiver):
    WebhookEndpoint.objects.create(shop=shop, url=receiver.url, events=["*"], secret=SECRET)
    order = f.order(f.channel(shop))
    cases = [f.case(order, case_type="complaint", reason="other") for _ in range(5)]
    rows = list(Outbox.objects.filter(case__in=cases).order_by("id"))
    for i, row in enumerate(rows):
        Outbox.objects.filter(pk=row.pk).update(next_attempt_at=T0 + dt.timedelta(minutes=i))
    assert outbox_sweep(now=T0 + dt.timedelta(minutes=2), batch=2) == 3
    states = list(
        Outbox.objects.filter(pk__in=[r.pk for r in rows])
        .order_by("id")
        .values_list("state", flat=True)
    )
    assert states == ["sent", "sent", "sent", "pending", "pending"]
    assert outbox_sweep(now=T0 + dt.timedelta(minutes=10)) == 2
    assert len(receiver.requests) == 5


def test_the_task_delivers_with_the_wall_clock(hook_row, receiver):
    Outbox.objects.filter(pk=hook_row.pk).update(next_attempt_at=T0 - dt.timedelta(days=3650))
    assert deliver_outbox.call(hook_row.pk) == "sent"
    assert deliver_outbox.call(hook_row.pk) is None
    assert len(receiver.requests) == 1
