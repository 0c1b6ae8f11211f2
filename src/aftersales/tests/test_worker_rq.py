"""With REDIS_URL set, background tasks go through RQ on Redis: a change's delivery task is
queued in Redis after commit and `aftersales worker --once` runs it (RQ in burst mode)."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from aftersales.tests.test_worker_crash import SECRET, Project, Webhooks

REDIS = ("127.0.0.1", 6379)


def _redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")

FILE_A_CASE = """
from aftersales.channels.services import shop_create
from aftersales.notify.models import Outbox, WebhookEndpoint
from aftersales.tests import factories as f
from django.conf import settings

assert settings.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend"
shop = shop_create(code="rq", name="RQ shop")
WebhookEndpoint.objects.create(shop=shop, url=HOOK_URL, secret=SECRET, events=["created"])
order = f.order(f.channel(shop))
f.case(order, case_type="refund_only")
print(",".join(str(d) for d in Outbox.objects.values_list("delivery_id", flat=True)))
"""

STATES = """
from aftersales.notify.models import Outbox
print(list(Outbox.objects.values_list("state", flat=True)))
"""


def test_tasks_go_through_rq_when_redis_is_configured(tmp_path):
    hooks = Webhooks()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    project = Project(tmp_path)
    # A Redis database of its own, emptied first: nothing of another run is picked up.
    db = 11
    project.env["REDIS_URL"] = f"redis://{REDIS[0]}:{REDIS[1]}/{db}"
    import redis
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    connection = redis.Redis(host=REDIS[0], port=REDIS[1], db=db)
    connection.flushdb()
    try:
        subprocess.run(
            [project.cli, "migrate", "--verbosity", "0"], env=project.env, check=True, timeout=300
        )
        delivery_ids = project.python(FILE_A_CASE, HOOK_URL=hooks.url, SECRET=SECRET).strip()
        queued = connection.llen("rq:queue:default")
        assert queued == 1  # the delivery task waits in Redis, not in the database
        assert "['pending']" in project.python(STATES)
        done = subprocess.run(
            [project.cli, "worker", "--once", "--interval", "3600"],
            env=project.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "(RQ tasks)" in done.stdout
        assert project.python(STATES).strip() == "['sent']"
        # RQ ran the delivery task itself (the sweep after it found nothing left to do).
        finished = FinishedJobRegistry("default", connection=connection)
        (job_id,) = finished.get_job_ids()
        assert Job.fetch(job_id, connection=connection).return_value() == "sent"
    finally:
        project.drop()
        hooks.shutdown()
    assert hooks.raw == [delivery_ids]
