"""Settings come from the environment; production refuses to start without a secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from aftersales.env import database_from_url, env_bool

_LOAD = "import aftersales.settings as s; print(s.DATABASES['default']['ENGINE'], s.TIME_ZONE)"


def _settings_run(**env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERSALES_", "DATABASE"))}
    env.update(env_vars)
    return subprocess.run([sys.executable, "-c", _LOAD], env=env, capture_output=True, text=True)


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = _settings_run(AFTERSALES_ENV="production", AFTERSALES_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "AFTERSALES_SECRET_KEY must be set in production" in result.stderr


def test_defaults_are_sqlite_in_shanghai_time(tmp_path):
    result = _settings_run(AFTERSALES_DATA_DIR=str(tmp_path))
    assert result.stdout.split() == ["django.db.backends.sqlite3", "Asia/Shanghai"]


def test_database_url_is_parsed_for_postgresql():
    db = database_from_url(
        "postgresql://u%40x:p%2Fw@db.local:6543/after?sslmode=require&server_side_binding=true"
        "&connect_timeout=5"
    )
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "django.db.backends.postgresql",
        "after",
        "u@x",
        "p/w",
    )
    assert (db["HOST"], db["PORT"], db["OPTIONS"]) == (
        "db.local",
        "6543",
        {"sslmode": "require", "server_side_binding": True, "connect_timeout": 5},
    )
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://root@localhost/x")


def test_env_bool_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", default=True) is False
