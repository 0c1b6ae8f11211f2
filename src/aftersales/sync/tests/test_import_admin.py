"""Staff upload an export in the admin; the worker imports it; the error report downloads."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from aftersales.accounts.roles import TEAM_LEAD
from aftersales.channels.models import ChannelKind, Order
from aftersales.sync.models import ImportRun
from aftersales.sync.tests.helpers import SAMPLES, catalogue, channel_of, counts
from aftersales.tests import factories as f


@pytest.fixture
def lead_client(shop):
    client = Client()
    user = f.user(TEAM_LEAD, [shop])
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)  # the worker commits and closes its connections
def test_upload_queues_the_file_the_worker_imports_it_and_the_report_downloads(
    shop, other_shop, lead_client
):
    catalogue(shop)
    taobao = channel_of(shop, ChannelKind.TAOBAO)
    elsewhere = channel_of(other_shop, ChannelKind.TAOBAO, code="theirs")

    page = lead_client.get("/admin/sync/importrun/add/")
    assert page.status_code == 200
    assert elsewhere.name not in page.content.decode()  # another shop's channel is not offered

    upload = SimpleUploadedFile("淘宝订单.csv", (SAMPLES / "taobao-orders.csv").read_bytes())
    resp = lead_client.post(
        "/admin/sync/importrun/add/",
        {"channel": taobao.pk, "kind": "orders", "preset": "", "file": upload},
    )
    run = ImportRun.objects.get()
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/sync/importrun/{run.pk}/change/"
    assert (run.status, run.filename, run.preset, run.by.username) == (
        "queued",
        "淘宝订单.csv",
        "taobao",
        run.by.username,
    )
    assert not Order.objects.exists()

    call_command("worker", "--once", stdout=io.StringIO())

    run.refresh_from_db()
    assert counts(run) == {
        "status": "done",
        "rows": 9,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 5,
    }
    detail = lead_client.get(f"/admin/sync/importrun/{run.pk}/change/").content.decode()
    assert "Download the error report (CSV)" in detail
    assert "Unknown SKU QM-XX99." in detail

    report = lead_client.get(f"/admin/sync/importrun/{run.pk}/errors.csv")
    assert report.status_code == 200
    assert report["Content-Disposition"] == f'attachment; filename="import-{run.pk}-errors.csv"'
    text = b"".join(report.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["row", "column", "value", "message"]
    assert rows[1] == ["5", "商家编码", "QM-XX99", "Unknown SKU QM-XX99."]
    assert len(rows) == 6


def test_a_channel_of_another_shop_is_refused_and_nothing_is_queued(shop, other_shop, lead_client):
    elsewhere = channel_of(other_shop, ChannelKind.TAOBAO, code="theirs")
    upload = SimpleUploadedFile("orders.csv", (SAMPLES / "taobao-orders.csv").read_bytes())
    resp = lead_client.post(
        "/admin/sync/importrun/add/",
        {"channel": elsewhere.pk, "kind": "orders", "file": upload},
    )
    assert resp.status_code == 200
    assert "Select a valid choice" in resp.content.decode()
    assert not ImportRun.objects.exists()


def test_another_shops_report_is_not_found(shop, other_shop, lead_client):
    catalogue(other_shop)
    theirs = channel_of(other_shop, ChannelKind.TAOBAO, code="theirs")
    from aftersales.sync.tests.helpers import run_import

    run = run_import(theirs, "orders", "taobao-orders.csv")
    assert lead_client.get(f"/admin/sync/importrun/{run.pk}/errors.csv").status_code == 404
    listing = lead_client.get("/admin/sync/importrun/").content.decode()
    assert theirs.name not in listing  # neither the run nor the channel in the filter


def test_an_admin_of_one_shop_sees_no_other_shops_links_or_events(shop, other_shop):
    from django.utils import timezone

    from aftersales.sync.models import ChannelEvent, ChannelLink

    theirs = f.channel(other_shop, code="theirs")
    link = ChannelLink.objects.create(
        shop=other_shop, channel=theirs, webhook_secret="S3CRET-of-the-other-shop-0123456789"
    )
    event = ChannelEvent.objects.create(
        shop=other_shop,
        channel=theirs,
        event_id="E-THEIRS",
        source="webhook",
        kind="case.updated",
        occurred_at=timezone.now(),
        received_at=timezone.now(),
        payload={"customer_words": "PRIVATE"},
        status="failed",
    )
    admin_user = f.user("admin", [shop])
    client = Client()
    client.force_login(admin_user)

    assert client.get(f"/admin/sync/channellink/{link.pk}/change/").status_code == 302
    assert "E-THEIRS" not in client.get("/admin/sync/channelevent/").content.decode()
    assert client.get(f"/admin/sync/channelevent/{event.pk}/change/").status_code == 302
