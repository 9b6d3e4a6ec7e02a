"""Every call of ClusterClient against a real server and Go workers."""

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from conftest import free_port, wait_until
from retire_cluster_client import (APIError, ClusterClient, ConflictError, NotFoundError, Page, TransportError,
                                   ValidationError, WaitTimeout, terminal)
from retire_cluster_client.services import TasksService


def test_health_ready_metrics_openapi(client):
    h = client.health()
    assert h["status"] == "healthy"
    assert client.ready()["status"] == "ready"
    assert "drover_" in client.metrics()
    doc = client.openapi()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/tasks" in doc["paths"]


def test_url_forms(cluster):
    assert ClusterClient(cluster.url + "/api/v1/").health()["status"] == "healthy"
    for bad in ("localhost:8081", "ftp://x", "http://h:1/?q=1"):
        with pytest.raises(ValueError):
            ClusterClient(bad)


def test_cluster_status_health_metrics_config(client):
    s = client.cluster.status()
    assert s["online_devices"] >= 2
    assert s["total_resources"]["cpu_cores"] >= 1
    assert client.cluster.health()["overall_health"] in ("healthy", "warning", "degraded", "unhealthy")
    m = client.cluster.metrics(period="1h")
    assert m["period"] == "1h" and "cpu" in m["metrics"]
    only = client.cluster.metrics(period="24h", type="tasks")
    assert set(only["metrics"]) == {"tasks"}
    assert client.cluster.config() == client.config.get()


def test_config_update(client):
    before = client.config.get()["cluster"]["offline_threshold"]
    r = client.config.update(cluster={"offline_threshold": before + 1})
    assert r["updated_fields"] == ["cluster.offline_threshold"]
    assert client.config.get()["cluster"]["offline_threshold"] == before + 1
    r = client.cluster.update_config({"cluster": {"offline_threshold": before}})
    assert r["updated_fields"] == ["cluster.offline_threshold"]
    with pytest.raises(ValidationError) as e:
        client.config.update(cluster={"heartbeat_interval": -5})
    assert e.value.code == "VALIDATION_ERROR"


def test_devices(client):
    page = client.devices.list(status="online")
    assert isinstance(page, Page)
    ids = [d["id"] for d in page]
    assert {"gw-a", "gw-b"} <= set(ids)
    assert page.online >= 2 and page.total >= 2 and page.data["devices"] == list(page)
    every = [d["id"] for d in client.devices.list(status="all")]
    assert [d["id"] for d in client.devices.list(sort="name", limit=1)] == sorted(every)[:1]
    assert all(d["role"] == "compute" for d in client.devices.list(role="compute"))
    d = client.devices.get("gw-a")
    assert d["id"] == "gw-a" and "detailed_info" in d and "performance_history" in d
    p = client.devices.ping("gw-a", timeout=2, count=2)
    assert p["reachable"] is True and len(p["results"]) == 2


def register_raw(cluster, name, queue="nowhere"):
    """A device that registers and then falls silent."""
    body = {"name": name, "hostname": name, "platform": {"os": "linux", "arch": "amd64"},
            "resources": {"cpu_cores": 1}, "queues": [queue], "task_types": ["echo"], "concurrency": 1}
    req = urllib.request.Request(cluster.agent_url + "/agent/v1/register", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["data"]


def test_device_suspend_and_resume(cluster, client):
    reg = register_raw(cluster, "to-suspend")
    s = client.devices.suspend(reg["worker_id"])
    assert s["device_id"] == reg["worker_id"] and s["suspended"] is True and s["status"] == "suspended"
    r = client.devices.resume(reg["worker_id"])
    assert r["suspended"] is False and r["status"] != "suspended"


def test_device_remove_and_not_found(cluster, client):
    reg = register_raw(cluster, "to-remove")
    r = client.devices.remove(reg["worker_id"], force=True)
    assert r["removed_device"] == reg["worker_id"] and r["cancelled_tasks"] == 0
    with pytest.raises(NotFoundError) as e:
        client.devices.get(reg["worker_id"])
    err = e.value
    assert err.code == "DEVICE_NOT_FOUND" and err.status == 404
    assert err.details["device_id"] == reg["worker_id"]
    assert "gw-a" in err.details["available_devices"]
    assert len(err.request_id) > 8
    with pytest.raises(ValueError):
        client.devices.get("")


def test_submit_wait_get_logs(client):
    task_id = client.tasks.submit("echo", {"message": "Hello", "repeat": 3})
    assert task_id.startswith("task-")
    t = client.tasks.wait(task_id, timeout=20)
    assert t["status"] == "completed" and terminal(t["status"])
    assert t["result"]["output"] == "Hello\nHello\nHello"
    got = client.tasks.get(task_id)
    assert got["payload"] == {"message": "Hello", "repeat": 3} and got["detailed_log"]
    page = client.tasks.logs(task_id)
    assert [l["message"] for l in page["logs"]] == ["Hello"] * 3 and page["status"] == "completed"
    assert [l["message"] for l in client.tasks.logs(task_id, cursor=page["logs"][0]["seq"], limit=1)["logs"]] == ["Hello"]
    assert [l["message"] for l in client.tasks.logs(task_id, follow=True)] == ["Hello"] * 3


def test_follow_logs_while_running(client):
    task_id = client.tasks.submit("shell", {"command": "for i in 1 2 3; do echo line $i; sleep 0.3; done"})
    lines = [l["message"] for l in client.tasks.follow_logs(task_id, poll_interval=0.1)]
    assert lines == ["line 1", "line 2", "line 3"]
    assert client.tasks.get(task_id)["status"] == "completed"


def test_submit_every_option(client):
    run_at = datetime.now(timezone.utc) + timedelta(hours=1)
    key = "opt-%d" % free_port()
    opts = dict(priority="high", queue="FifoQ", device_id="gw-b",
                requirements={"min_cpu_cores": 1, "min_memory_gb": 0.1, "platform": "linux", "role": "compute"},
                timeout=30, max_retries=2, retry_backoff_seconds=0.5, run_at=run_at, idempotency_key=key,
                labels={"team": "sdk"})
    first = client.tasks.create("echo", {"message": "opts"}, **opts)
    t = client.tasks.get(first["task_id"])
    assert t["priority"] == "high" and t["queue"] == "FifoQ" and t["pinned_device"] == "gw-b"
    assert t["timeout"] == 30 and t["max_retries"] == 2 and t["idempotency_key"] == key
    assert t["labels"] == {"team": "sdk"} and t["requirements"]["min_cpu_cores"] == 1
    assert t["status"] == "pending" and t["available_at"].startswith(run_at.strftime("%Y-%m-%dT%H"))
    again = client.tasks.create("echo", {"message": "opts"}, **opts)
    assert again["task_id"] == first["task_id"] and again.get("duplicate") is True
    with pytest.raises(ConflictError) as e:
        client.tasks.submit("echo", {"message": "other"}, idempotency_key=key)
    assert e.value.code == "IDEMPOTENCY_CONFLICT"
    delayed = client.tasks.submit("echo", {"message": "later"}, delay_seconds=3600)
    with pytest.raises(WaitTimeout) as e:
        client.tasks.wait(delayed, timeout=0.3)
    assert isinstance(e.value, TimeoutError) and e.value.task["status"] == "pending"
    for tid in (first["task_id"], delayed):
        c = client.tasks.cancel(tid)
        assert c == {"cancelled_task": tid, "was_running": False}
    r = client.tasks.retry(delayed, priority="low")
    assert r["original_task_id"] == delayed
    nt = client.tasks.wait(r["new_task_id"], timeout=20)
    assert nt["status"] == "completed" and nt["priority"] == "low" and nt["original_task_id"] == delayed


def test_cancel_running_and_conflict(client):
    tid = client.tasks.submit("sleep", {"seconds": 30})
    wait_until(lambda: client.tasks.get(tid)["status"] == "running", what="task running")
    assert client.tasks.cancel(tid)["was_running"] is True
    assert client.tasks.wait(tid, timeout=10)["status"] == "cancelled"
    with pytest.raises(APIError) as e:
        client.tasks.cancel(tid)
    assert e.value.code == "TASK_NOT_CANCELLABLE" and e.value.details["task_id"] == tid
    assert isinstance(e.value, ConflictError) or e.value.status in (400, 409)


def test_failed_task(client):
    tid = client.tasks.submit("shell", {"command": "echo oops; exit 3"})
    t = client.tasks.wait(tid, timeout=20)
    assert t["status"] == "failed" and t["result"]["exit_code"] == 3


def test_batch_list_iterate(cluster, client):
    tag = "batch-%d" % free_port()
    # A queue of its own, served by a device that never leases: the tasks stay pending.
    register_raw(cluster, "idle-" + tag, queue="q-" + tag)
    reqs = [TasksService.request("echo", {"message": "b%d" % i}, labels={"batch": tag}, queue="q-" + tag)
            for i in range(7)]
    r = client.tasks.batch(reqs)
    assert r["count"] == 7 and len(r["tasks"]) == 7
    ids = [t["task_id"] for t in r["tasks"]]
    page = client.tasks.list(queue="q-" + tag, limit=3)
    assert len(page) == 3 and page.total == 7 and page.pending == 7
    page2 = client.tasks.list(queue="q-" + tag, limit=3, offset=3)
    assert not {t["task_id"] for t in page} & {t["task_id"] for t in page2}
    assert sorted(t["task_id"] for t in client.tasks.iterate(queue="q-" + tag, page_size=2)) == sorted(ids)
    assert len(client.tasks.list(queue="q-" + tag, status="pending", task_type="echo")) == 7
    assert len(client.tasks.list(queue="q-" + tag, status="completed")) == 0
    since = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert len(client.tasks.list(queue="q-" + tag, since=since)) == 0
    done = client.tasks.submit("echo", {"message": "on a device"}, device_id="gw-a")
    client.tasks.wait(done, timeout=20)
    assert done in [t["task_id"] for t in client.tasks.list(device_id="gw-a", limit=200)]
    for tid in ids:
        client.tasks.cancel(tid)
    with pytest.raises(ValidationError):
        client.tasks.batch([TasksService.request("echo"), {"task_type": "echo", "priority": "urgent"}])


def test_error_mapping(client):
    with pytest.raises(NotFoundError) as e:
        client.tasks.get("task-does-not-exist")
    assert e.value.code == "TASK_NOT_FOUND" and e.value.status == 404 and e.value.request_id
    assert str(e.value).startswith("TASK_NOT_FOUND: ")
    with pytest.raises(ValidationError) as e:
        client.tasks.submit("echo", priority="urgent")
    assert e.value.code == "VALIDATION_ERROR" and e.value.details["field"] == "priority"
    with pytest.raises(ValidationError) as e:
        client.tasks.submit("no-such-type")
    assert e.value.code == "INVALID_TASK_TYPE" and "echo" in e.value.details["builtin_types"]
    with pytest.raises(ValidationError) as e:
        client.tasks.submit("echo", requirements={"min_cpu_cores": 4096})
    assert e.value.code == "INSUFFICIENT_RESOURCES"
    with pytest.raises(NotFoundError) as e:
        client.request("GET", "/api/v1/nothing-here")
    assert e.value.status == 404
    with pytest.raises(TransportError):
        ClusterClient("http://127.0.0.1:%d" % free_port(), timeout=2).health()


def test_logs_and_stats(client):
    tid = client.tasks.submit("echo", {"message": "for the log"})
    client.tasks.wait(tid, timeout=20)
    page = client.logs.list(task_id=tid, limit=10)
    assert page and all(e["task_id"] == tid for e in page)
    assert hasattr(page, "cursor") and "has_more" in page.data
    assert client.logs.list(level="error", limit=5) is not None
    asc = client.logs.list(order="asc", limit=2, since="1h")
    assert len(asc) == 2 and asc[0]["id"] < asc[1]["id"]
    every = list(client.logs.iterate(task_id=tid, page_size=1))
    assert [e["id"] for e in every] == [e["id"] for e in page]
    assert len(list(client.logs.iterate(component="scheduler", device_id=None, level="info", page_size=500))) >= 1
    ts = client.stats.tasks(period="24h", group_by="task_type")
    # Statistics come from periodic roll-ups: check the shape, not fresh counts.
    assert ts["period"] == "24h" and ts["group_by"] == "task_type" and "by_status" in ts
    ds = client.stats.devices(period="1h")
    assert ds["period"] == "1h" and "utilization" in ds and "performance_ranking" in ds
