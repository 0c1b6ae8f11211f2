"""`aftersales import orders|cases FILE --channel C`: a summary, a progress bar, the report."""

from __future__ import annotations

import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from aftersales.channels.models import ChannelKind, Order
from aftersales.sync.models import ImportRun
from aftersales.sync.tests.helpers import SAMPLES, catalogue, channel_of


def _import(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_a_summary_and_writes_the_error_report(shop, tmp_path):
    catalogue(shop)
    channel_of(shop, ChannelKind.TAOBAO, code="tb")
    path = tmp_path / "taobao-orders.csv"
    shutil.copy(SAMPLES / "taobao-orders.csv", path)

    out, err = _import("orders", str(path), "--channel", "tb", "--progress", "always")

    run = ImportRun.objects.get()
    assert out.splitlines()[0].startswith(
        "Orders from taobao-orders.csv into tb (preset taobao): 9 rows in "
    )
    assert out.splitlines()[0].endswith(
        f"s; created 3, updated 0, unchanged 0, refused rows 5. Import #{run.pk}."
    )
    report = tmp_path / "taobao-orders.errors.csv"
    assert out.splitlines()[1] == f"5 problems: see {report}"
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,column,value,message"
    assert lines[1] == "5,商家编码,QM-XX99,Unknown SKU QM-XX99."
    assert len(lines) == 6
    assert "100%" in err  # the progress bar reached the end
    assert Order.objects.count() == 3


def test_a_file_that_cannot_be_imported_exits_with_an_error(shop, tmp_path):
    channel_of(shop, ChannelKind.TAOBAO, code="tb")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="The file is empty."):
        _import("orders", str(empty), "--channel", "tb")
    assert ImportRun.objects.get().status == "failed"


def test_an_unknown_channel_or_file_is_refused_before_anything_starts(shop, tmp_path):
    with pytest.raises(CommandError, match="No channel with code 'nope'."):
        _import("orders", str(SAMPLES / "taobao-orders.csv"), "--channel", "nope")
    with pytest.raises(CommandError, match="No such file"):
        _import("orders", str(tmp_path / "missing.csv"), "--channel", "nope")
    assert not ImportRun.objects.exists()
