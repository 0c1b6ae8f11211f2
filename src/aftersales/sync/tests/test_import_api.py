"""Integrations upload an export over the API, follow the run and fetch its error report."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from aftersales.channels.models import ChannelKind, Order
from aftersales.sync.models import ImportRun
from aftersales.sync.tests.helpers import SAMPLES, catalogue, channel_of
from aftersales.tests import factories as f


def _client(user) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {f.token(user)}"
    return client


def _upload(client: Client, channel_id: int, kind: str = "orders", **extra):
    upload = SimpleUploadedFile("taobao.csv", (SAMPLES / "taobao-orders.csv").read_bytes())
    data = {"channel_id": channel_id, "kind": kind, "file": upload, **extra}
    return client.post("/api/v1/imports", data)


@pytest.mark.django_db(transaction=True)  # the worker commits and closes its connections
def test_an_upload_is_queued_imported_by_the_worker_and_its_report_downloads(shop):
    catalogue(shop)
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    client = _client(f.user("integration", [shop]))

    resp = _upload(client, taobao.pk)

    assert resp.status_code == 202, resp.content
    body = resp.json()
    run = ImportRun.objects.get()
    assert {k: body[k] for k in ("id", "kind", "preset", "filename", "status", "rows")} == {
        "id": run.pk,
        "kind": "orders",
        "preset": "taobao",
        "filename": "taobao.csv",
        "status": "queued",
        "rows": 0,
    }
    assert body["errors_url"] == f"/api/v1/imports/{run.pk}/errors"

    call_command("worker", "--once", stdout=io.StringIO())

    detail = client.get(f"/api/v1/imports/{run.pk}").json()
    assert {k: detail[k] for k in ("status", "rows", "created", "updated", "failed")} == {
        "status": "done",
        "rows": 9,
        "created": 3,
        "updated": 0,
        "failed": 5,
    }
    report = client.get(f"/api/v1/imports/{run.pk}/errors")
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "column", "value", "message"]
    assert rows[1] == ["5", "商家编码", "QM-XX99", "Unknown SKU QM-XX99."]
    assert Order.objects.count() == 3


def test_bad_uploads_are_refused_and_nothing_is_queued(shop, other_shop):
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    theirs = channel_of(other_shop, ChannelKind.TAOBAO, code="theirs")
    client = _client(f.user("integration", [shop]))

    wrong_kind = _upload(client, taobao.pk, kind="products")
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["error"] == {
        "code": "request.invalid",
        "message": "Some fields are not valid.",
        "fields": {"kind": "Input should be 'orders' or 'cases'"},
    }

    unknown_preset = _upload(client, taobao.pk, preset="amazon")
    assert unknown_preset.status_code == 422
    assert unknown_preset.json()["error"]["code"] == "import.unknown_preset"

    elsewhere = _upload(client, theirs.pk)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "channel.not_found"

    no_file = client.post("/api/v1/imports", {"channel_id": taobao.pk, "kind": "orders"})
    assert no_file.status_code == 422
    assert no_file.json()["error"]["fields"] == {"file": "Field required"}

    assert not ImportRun.objects.exists()


def test_a_user_who_may_not_import_is_refused(shop):
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    client = _client(f.user("qa", [shop]))
    resp = _upload(client, taobao.pk)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "permission.denied"
    assert not ImportRun.objects.exists()


def test_another_shops_import_is_not_found(shop, other_shop):
    catalogue(other_shop)
    theirs = channel_of(other_shop, ChannelKind.TAOBAO, code="theirs")
    from aftersales.sync.tests.helpers import run_import

    run = run_import(theirs, "orders", "taobao-orders.csv")
    client = _client(f.user("integration", [shop]))
    assert client.get(f"/api/v1/imports/{run.pk}").status_code == 404
    assert client.get(f"/api/v1/imports/{run.pk}/errors").status_code == 404


def test_a_queued_upload_whose_uploader_lost_the_right_fails_and_imports_nothing(
    shop, django_capture_on_commit_callbacks
):
    from aftersales.sync.importing.runs import import_queued

    catalogue(shop)
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    user = f.user("integration", [shop])
    with django_capture_on_commit_callbacks(execute=False):
        run_id = _upload(_client(user), taobao.pk).json()["id"]
    user.groups.clear()

    assert import_queued(run_id=run_id) == "failed"

    run = ImportRun.objects.get(pk=run_id)
    assert (run.status, run.message, run.rows) == ("failed", "You may not do this.", 0)
    assert not Order.objects.exists()
