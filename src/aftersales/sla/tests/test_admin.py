"""Calendars in the admin: validated hours, holidays inline take the calendar's shop."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from aftersales.sla.models import BusinessCalendar, Holiday


@pytest.fixture
def admin_client_(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def form(shop, weekly_hours) -> dict:
    return {
        "shop": shop.pk,
        "name": "客服",
        "time_zone": "Asia/Shanghai",
        "weekly_hours": json.dumps(weekly_hours),
        "is_default": "on",
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": "2024-10-01",
        "holidays-0-name": "国庆节",
        "holidays-0-kind": "closed",
        "holidays-0-spans": "[]",
    }


def test_admin_add_calendar_with_a_holiday(admin_client_, shop):
    assert "09:00" in admin_client_.get("/admin/sla/businesscalendar/add/").content.decode()
    resp = admin_client_.post(
        "/admin/sla/businesscalendar/add/", form(shop, [[["09:00", "24:00"]]] * 7)
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    holiday = Holiday.objects.get()
    assert (holiday.shop_id, holiday.calendar.name) == (shop.pk, "客服")


def test_admin_refuses_bad_hours(admin_client_, shop):
    resp = admin_client_.post(
        "/admin/sla/businesscalendar/add/", form(shop, [[["18:00", "09:00"]]] * 7)
    )
    assert resp.status_code == 200
    assert "weekly_hours.0.0: The span ends before it starts." in resp.content.decode()
    assert not BusinessCalendar.objects.exists()
    assert not Holiday.objects.exists()
