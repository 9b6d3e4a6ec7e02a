"""Every operation of the server's /openapi.json is reachable from the client:
a table maps each one to a client call, and each call is checked to send
that method and path. An operation missing from the table fails the test, so
the SDK cannot fall behind the API."""

import re

import pytest

from retire_cluster_client import ClusterClient
from retire_cluster_client.services import TasksService


class Sent(Exception):
    pass


# "METHOD path" -> a call of the client; {id} becomes "x".
CALLS = {
    "GET /health": lambda c: c.health(),
    "GET /ready": lambda c: c.ready(),
    "GET /metrics": lambda c: c.metrics(),
    "GET /openapi.json": lambda c: c.openapi(),
    "GET /api/v1/cluster/status": lambda c: c.cluster.status(),
    "GET /api/v1/cluster/health": lambda c: c.cluster.health(),
    "GET /api/v1/cluster/metrics": lambda c: c.cluster.metrics("1h"),
    "GET /api/v1/cluster/config": lambda c: c.cluster.config(),
    "PUT /api/v1/cluster/config": lambda c: c.cluster.update_config(cluster={}),
    "GET /api/v1/config": lambda c: c.config.get(),
    "PUT /api/v1/config": lambda c: c.config.update(cluster={}),
    "GET /api/v1/devices": lambda c: c.devices.list(),
    "GET /api/v1/devices/{id}": lambda c: c.devices.get("x"),
    "DELETE /api/v1/devices/{id}": lambda c: c.devices.remove("x"),
    "POST /api/v1/devices/{id}/ping": lambda c: c.devices.ping("x"),
    "POST /api/v1/tasks": lambda c: c.tasks.submit("echo"),
    "GET /api/v1/tasks": lambda c: c.tasks.list(),
    "POST /api/v1/tasks/batch": lambda c: c.tasks.batch([TasksService.request("echo")]),
    "GET /api/v1/tasks/{id}": lambda c: c.tasks.get("x"),
    "DELETE /api/v1/tasks/{id}": lambda c: c.tasks.cancel("x"),
    "POST /api/v1/tasks/{id}/retry": lambda c: c.tasks.retry("x"),
    "GET /api/v1/tasks/{id}/logs": lambda c: c.tasks.logs("x"),
    "GET /api/v1/logs": lambda c: c.logs.list(),
    "GET /api/v1/monitor/stream": lambda c: next(iter(c.monitor.stream())),
    "GET /api/v1/stats/tasks": lambda c: c.stats.tasks(),
    "GET /api/v1/stats/devices": lambda c: c.stats.devices(),
    "POST /api/v1/keys": lambda c: c.keys.create("k", ["read"]),
    "GET /api/v1/keys": lambda c: c.keys.list(),
    "GET /api/v1/keys/{id}": lambda c: c.keys.get("x"),
    "DELETE /api/v1/keys/{id}": lambda c: c.keys.revoke("x"),
    "POST /api/v1/keys/{id}/rotate": lambda c: c.keys.rotate("x"),
}


def operations(doc):
    for path, item in doc["paths"].items():
        for method in item:
            if method.upper() in ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"):
                yield "%s %s" % (method.upper(), path)


def test_every_operation_is_mapped(client):
    ops = sorted(operations(client.openapi()))
    assert len(ops) >= 30
    unmapped = [op for op in ops if op not in CALLS]
    assert not unmapped, "operations of /openapi.json with no client call (add them to the SDK and CALLS): %s" % unmapped


@pytest.mark.parametrize("op", sorted(CALLS))
def test_call_sends_its_operation(op):
    c = ClusterClient("http://127.0.0.1:1")
    sent = []

    def record(method, path, **kw):
        sent.append((method, path))
        raise Sent()

    c._t.open = record
    with pytest.raises(Sent):
        CALLS[op](c)
    method, template = op.split(" ", 1)
    assert sent and sent[0][0] == method
    assert re.fullmatch(re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template)), sent[0][1]), (op, sent[0])
