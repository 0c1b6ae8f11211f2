"""The case detail in the API shows every running clock: due time and business time left."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest

from aftersales.cases.services import case_request_info
from aftersales.sla.targets import targets_for
from aftersales.sla.tests.clock import DAY, HOUR, MINUTE, T0, at
from aftersales.tests import factories as f


def _detail(api, case, now: dt.datetime) -> list[dict]:
    with mock.patch("aftersales.sla.selectors.timezone.now", return_value=now):
        resp = api.get(f"/cases/{case.pk}")
    assert resp.status_code == 200
    return [
        {k: c[k] for k in ("kind", "subject", "state", "due_at", "business", "seconds_left")}
        | {"overdue": c["overdue"]}
        for c in resp.json()["clocks"]
    ]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.django_db
def test_the_detail_lists_running_clocks_with_business_time_left(order, agent, api_for):
    with at(T0):  # Wednesday 10:00 Shanghai
        case = f.case(order, case_type="refund_only", reason="quality_defect")
    clocks = _detail(api_for(agent), case, T0 + 30 * MINUTE)
    kinds = [(c["kind"], c["subject"]) for c in clocks]
    assert kinds == [
        ("warning", "first_response"),
        ("first_response", ""),
        ("escalation", "1"),
        ("warning", "resolution"),
        ("resolution", ""),
        ("merchant_answer", ""),
    ]
    assert clocks[0] == {
        "kind": "warning",
        "subject": "first_response",
        "state": "pending",
        "due_at": _iso(T0 + 48 * MINUTE),
        "business": True,
        "seconds_left": 18 * 60,
        "overdue": False,
    }
    assert clocks[1]["seconds_left"] == 30 * 60
    assert (clocks[2]["due_at"], clocks[2]["business"], clocks[2]["seconds_left"]) == (
        _iso(T0 + DAY),
        False,
        int((DAY - 30 * MINUTE).total_seconds()),
    )
    # The order shipped on Taobao: 5 days to answer, acted on an hour before.
    assert (clocks[5]["due_at"], clocks[5]["seconds_left"]) == (
        _iso(T0 + 5 * DAY - HOUR),
        int((5 * DAY - HOUR - 30 * MINUTE).total_seconds()),
    )
    # At 23:50 the first response is overdue; business time stops at midnight, not the clock.
    late = _detail(api_for(agent), case, T0.replace(hour=23, minute=50))
    first = next(c for c in late if c["kind"] == "first_response")
    assert (first["overdue"], first["seconds_left"]) == (True, -(12 * 3600 + 50 * 60))


@pytest.mark.django_db
def test_a_paused_clock_shows_the_business_time_it_kept(order, agent, api_for):
    with at(T0):
        case = f.case(order, case_type="refund_only", reason="quality_defect")
    with at(T0 + 10 * MINUTE):
        case_request_info(case=case, actor=agent, question="请补充照片。")
    clocks = _detail(api_for(agent), case, T0 + 3 * DAY)
    resolution = next(c for c in clocks if c["kind"] == "resolution")
    assert resolution["state"] == "paused"
    assert resolution["due_at"] is None
    assert resolution["overdue"] is False
    # Ten business minutes ran before the question; the rest waits for the answer.
    assert resolution["seconds_left"] == targets_for(case).resolution.total_seconds() - 600
    first = [c for c in clocks if c["kind"] in ("first_response", "escalation")]
    assert first == []  # asking the customer was the first answer; nothing escalates meanwhile


@pytest.mark.django_db
def test_the_list_finds_the_cases_breaching_soon(order, agent, api_for):
    with at(T0):
        first = f.case(order, case_type="refund_only", reason="quality_defect")
    with at(T0 + 40 * MINUTE):
        second = f.case(f.order(order.channel), case_type="refund_only", reason="quality_defect")
    with at(T0 + 5 * MINUTE):
        case_request_info(case=first, actor=agent, question="请补充照片。")  # answered: met
    api = api_for(agent)

    def listed(now: dt.datetime, within: int) -> list[int]:
        with mock.patch("aftersales.api.cases.timezone.now", return_value=now):
            resp = api.get(f"/cases?sla_due_within={within}")
        assert resp.status_code == 200
        return [c["id"] for c in resp.json()["items"]]

    # The second's first response is due at 11:40; the first's clocks are met or paused.
    assert listed(T0 + 45 * MINUTE, 3600) == [second.pk]
    assert listed(T0 + 45 * MINUTE, 30 * 60) == []
    assert listed(T0 + 2 * HOUR, 0) == [second.pk]  # overdue, not yet swept
    resp = api.get("/cases?sla_due_within=-1")
    assert resp.status_code == 422
    assert "sla_due_within" in str(resp.json()["error"]["fields"])
