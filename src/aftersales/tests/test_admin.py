"""The admin is the configuration UI: every registered model's pages render, cases stay
read-only, and the API docs are served from local files (no CDN)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client

from aftersales.tests import factories as f


@pytest.fixture
def admin_client_(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def test_every_admin_changelist_and_add_page_renders(admin_client_, order):
    case = f.case(order)
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert admin_client_.get(url).status_code == 200, url
        if model_admin.has_add_permission(type("R", (), {"user": User(is_superuser=True)})()):
            assert admin_client_.get(url + "add/").status_code == 200, url
    resp = admin_client_.get(f"/admin/cases/case/{case.pk}/change/")
    assert resp.status_code == 200
    assert "AS" in resp.content.decode()


def test_cases_cannot_be_edited_in_the_admin(admin_client_, order):
    case = f.case(order)
    resp = admin_client_.post(
        f"/admin/cases/case/{case.pk}/change/", {"status": "succeeded", "reason": "other"}
    )
    assert resp.status_code == 403
    case.refresh_from_db()
    assert case.status == "awaiting_merchant"


def test_api_docs_use_local_static_files(db):
    body = Client().get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr.net" not in body
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert Client().get("/static/ninja/swagger-ui-bundle.js").status_code == 200
