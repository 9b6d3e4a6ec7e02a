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
    "POST /api/v1/devices/{id}/suspend": lambda c: c.devices.suspend("x"),
    "POST /api/v1/devices/{id}/resume": lambda c: c.devices.resume("x"),
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
    # Extensions (DESIGN §5) as their routes land; an entry whose route is not
    # served yet does no harm.
    "GET /api/v1/queues": lambda c: c.queues.list(),
    "GET /api/v1/queues/{name}": lambda c: c.queues.get("x"),
    "POST /api/v1/queues/{name}/pause": lambda c: c.queues.pause("x"),
    "POST /api/v1/queues/{name}/resume": lambda c: c.queues.resume("x"),
    "POST /api/v1/pools": lambda c: c.pools.create("p", points=1),
    "GET /api/v1/pools": lambda c: c.pools.list(),
    "GET /api/v1/pools/{id}": lambda c: c.pools.get(1),
    "PATCH /api/v1/pools/{id}": lambda c: c.pools.update(1, max_points=3),
    "DELETE /api/v1/pools/{id}": lambda c: c.pools.delete(1),
    "POST /api/v1/pools/{id}/scale": lambda c: c.pools.scale(1, 2),
    "GET /api/v1/pools/{id}/events": lambda c: c.pools.events(1),
    "POST /api/v1/workflows": lambda c: c.workflows.create("w", []),
    "GET /api/v1/workflows": lambda c: c.workflows.list(),
    "GET /api/v1/workflows/{id}": lambda c: c.workflows.get(1),
    "PATCH /api/v1/workflows/{id}": lambda c: c.workflows.update(1, schedule=""),
    "DELETE /api/v1/workflows/{id}": lambda c: c.workflows.delete(1),
    "POST /api/v1/workflows/{id}/runs": lambda c: c.workflows.run(1),
    "POST /api/v1/workflows/{id}/kill": lambda c: c.workflows.kill(1),
    "GET /api/v1/runs": lambda c: c.runs.list(),
    "GET /api/v1/runs/{id}": lambda c: c.runs.get(1),
    "POST /api/v1/runs/{id}/restart": lambda c: c.runs.restart(1),
    "POST /api/v1/runs/{id}/kill": lambda c: c.runs.kill(1),
    "GET /api/v1/runs/{id}/logs": lambda c: c.runs.logs(1),
    "POST /api/v1/actions/{id}/kill": lambda c: c.actions.kill(1),
    "GET /api/v1/variables": lambda c: c.variables.list(),
    "GET /api/v1/variables/{name}": lambda c: c.variables.get("x"),
    "PUT /api/v1/variables/{name}": lambda c: c.variables.set("x", "v"),
    "DELETE /api/v1/variables/{name}": lambda c: c.variables.delete("x"),
    "GET /api/v1/connections": lambda c: c.connections.list(),
    "GET /api/v1/connections/{name}": lambda c: c.connections.get("x"),
    "PUT /api/v1/connections/{name}": lambda c: c.connections.put("x", url="u"),
    "DELETE /api/v1/connections/{name}": lambda c: c.connections.delete("x"),
    "GET /api/v1/templates": lambda c: c.templates.list(),
    "GET /api/v1/templates/{name}": lambda c: c.templates.get("x"),
    "PUT /api/v1/templates/{name}": lambda c: c.templates.put("x", steps=[]),
    "DELETE /api/v1/templates/{name}": lambda c: c.templates.delete("x"),
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
