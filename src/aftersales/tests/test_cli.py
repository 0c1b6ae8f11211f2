"""The `aftersales` command: token creation, and `serve` answering real HTTP."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aftersales.accounts.models import ApiToken
from aftersales.conftest import Api


def test_token_creates_the_user_with_the_role_and_prints_a_working_token(shop, channel):
    out = io.StringIO()
    call_command("token", "integration-bot", "--role", "integration", stdout=out)
    key = out.getvalue().strip()
    assert key.startswith("as_")
    token = ApiToken.objects.get()
    assert (token.user.username, token.key_prefix) == ("integration-bot", key[:10])
    assert key not in {token.key_hash, token.key_prefix}  # only the hash is stored
    assert list(token.user.groups.values_list("name", flat=True)) == ["integration"]
    resp = Api(key).get("/channels")
    assert resp.status_code == 200
    assert [c["code"] for c in resp.json()] == ["taobao"]


def test_token_refuses_an_unknown_role_or_shop(db):
    with pytest.raises(CommandError):
        call_command("token", "x", "--role", "boss", stdout=io.StringIO())
    with pytest.raises(CommandError, match="unknown shop"):
        call_command("token", "x", "--role", "agent", "--shop", "nope", stdout=io.StringIO())
    assert ApiToken.objects.count() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_and_answers_http(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["AFTERSALES_DATA_DIR"] = str(tmp_path)
    cli = Path(sys.executable).with_name("aftersales")
    proc = subprocess.Popen(
        [str(cli), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                    schema = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read().decode()) from None
                time.sleep(0.2)
        assert schema["info"]["title"] == "Aftersales API"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cases")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
            assert json.load(exc)["error"]["code"] == "auth.required"
        else:
            raise AssertionError("unauthenticated list answered 2xx")
        assert (tmp_path / "aftersales.sqlite3").exists()
        children = _children(proc.pid)
        assert any(cmd[1:3] == ["-m", "gunicorn"] for cmd in children), children
        assert any(cmd[-1:] == ["worker"] for cmd in children), children
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert _children(proc.pid) == []  # SIGTERM stopped the web server and the worker too


def _children(pid: int) -> list[list[str]]:
    """The command lines of a process's live children (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append([part.decode() for part in cmdline.split(b"\0") if part])
    return found
