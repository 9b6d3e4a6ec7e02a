"""Services for the native API's extensions beyond document 001 (DESIGN §5):
queues, pools, workflows, runs, actions, variables, connections and
templates. Their shapes are still growing, so these methods return the
answer's ``data`` whole (``{"pool": {...}}``, ``{"runs": [...], ...}``) and
pass bodies through as given; ``ClusterClient.request`` reaches anything
newer still."""

from typing import Any, Dict, Optional

from ._transport import API_PREFIX, Transport, item_path

JSON = Dict[str, Any]


def _body(fields: JSON) -> JSON:
    return {k: v for k, v in fields.items() if v is not None}


class _Service:
    def __init__(self, transport: Transport) -> None:
        self._t = transport


class QueuesService(_Service):
    """/api/v1/queues: the queues tasks wait in."""

    def list(self) -> JSON:
        return self._t.call("GET", API_PREFIX + "/queues")

    def get(self, name: str) -> JSON:
        return self._t.call("GET", item_path("queues", name))

    def pause(self, name: str) -> JSON:
        """Stop handing the queue's tasks to workers; submits are still admitted."""
        return self._t.call("POST", item_path("queues", name, "/pause"), body={})

    def resume(self, name: str) -> JSON:
        return self._t.call("POST", item_path("queues", name, "/resume"), body={})


class PoolsService(_Service):
    """/api/v1/pools: groups of workers scaled by a provider (local, command)."""

    def create(self, name: str, **spec: Any) -> JSON:
        """Create a pool: points, min_points, max_points, provider, worker, autoscale, …"""
        return self._t.call("POST", API_PREFIX + "/pools", body=_body(dict(spec, name=name)))

    def list(self) -> JSON:
        return self._t.call("GET", API_PREFIX + "/pools")

    def get(self, pool_id: Any) -> JSON:
        return self._t.call("GET", item_path("pools", str(pool_id)))

    def update(self, pool_id: Any, **changes: Any) -> JSON:
        """Change part of a pool (PATCH), e.g. update(3, max_points=10)."""
        return self._t.call("PATCH", item_path("pools", str(pool_id)), body=changes)

    def delete(self, pool_id: Any) -> JSON:
        return self._t.call("DELETE", item_path("pools", str(pool_id)))

    def scale(self, pool_id: Any, points: int, **options: Any) -> JSON:
        """Scale a pool to points now (scaling down drains)."""
        return self._t.call("POST", item_path("pools", str(pool_id), "/scale"),
                            body=_body(dict(options, points=points)))

    def events(self, pool_id: Any, **query: Any) -> JSON:
        """The pool's scaling history."""
        return self._t.call("GET", item_path("pools", str(pool_id), "/events"), query=query)


class WorkflowsService(_Service):
    """/api/v1/workflows: DAGs of steps, run on demand or on a cron schedule."""

    def create(self, name: str, steps: Any, **spec: Any) -> JSON:
        """Create a workflow: steps [{name, task_type, payload, depends_on, …}],
        schedule, timezone, depends_on, …"""
        return self._t.call("POST", API_PREFIX + "/workflows",
                            body=_body(dict(spec, name=name, steps=steps)))

    def list(self, **query: Any) -> JSON:
        return self._t.call("GET", API_PREFIX + "/workflows", query=query)

    def get(self, workflow_id: Any) -> JSON:
        return self._t.call("GET", item_path("workflows", str(workflow_id)))

    def update(self, workflow_id: Any, **changes: Any) -> JSON:
        return self._t.call("PATCH", item_path("workflows", str(workflow_id)), body=changes)

    def delete(self, workflow_id: Any) -> JSON:
        return self._t.call("DELETE", item_path("workflows", str(workflow_id)))

    def run(self, workflow_id: Any, delay_seconds: Optional[float] = None,
            ignore_dependencies: Optional[bool] = None) -> JSON:
        """Start a run now (or after delay_seconds)."""
        return self._t.call("POST", item_path("workflows", str(workflow_id), "/runs"),
                            body=_body({"delay_seconds": delay_seconds, "ignore_dependencies": ignore_dependencies}))

    def kill(self, workflow_id: Any) -> JSON:
        """Kill every active run of the workflow."""
        return self._t.call("POST", item_path("workflows", str(workflow_id), "/kill"), body={})


class RunsService(_Service):
    """/api/v1/runs: the runs of workflows and their steps."""

    def list(self, **query: Any) -> JSON:
        return self._t.call("GET", API_PREFIX + "/runs", query=query)

    def get(self, run_id: Any) -> JSON:
        return self._t.call("GET", item_path("runs", str(run_id)))

    def restart(self, run_id: Any, mode: str = "failed", steps: Optional[Any] = None) -> JSON:
        """Restart the whole run, its failed steps, or the given steps (action ids)."""
        return self._t.call("POST", item_path("runs", str(run_id), "/restart"),
                            body=_body({"mode": mode, "steps": steps}))

    def kill(self, run_id: Any) -> JSON:
        return self._t.call("POST", item_path("runs", str(run_id), "/kill"), body={})

    def logs(self, run_id: Any, **query: Any) -> JSON:
        """The run's log: cursor, limit, level, action_id."""
        return self._t.call("GET", item_path("runs", str(run_id), "/logs"), query=query)


class ActionsService(_Service):
    """/api/v1/actions: one step of a run."""

    def kill(self, action_id: Any) -> JSON:
        return self._t.call("POST", item_path("actions", str(action_id), "/kill"), body={})


class _Named(_Service):
    """A collection of named values: PUT /<noun>/{name}, GET, DELETE."""

    noun = ""

    def list(self) -> JSON:
        return self._t.call("GET", API_PREFIX + "/" + self.noun)

    def get(self, name: str) -> JSON:
        return self._t.call("GET", item_path(self.noun, name))

    def delete(self, name: str) -> JSON:
        return self._t.call("DELETE", item_path(self.noun, name))


class VariablesService(_Named):
    """/api/v1/variables: ${NAME} in a task spec is replaced when the task is created."""

    noun = "variables"

    def set(self, name: str, value: Any) -> JSON:
        return self._t.call("PUT", item_path(self.noun, name), body={"value": value})


class ConnectionsService(_Named):
    """/api/v1/connections: named connection settings steps refer to."""

    noun = "connections"

    def put(self, name: str, **spec: Any) -> JSON:
        return self._t.call("PUT", item_path(self.noun, name), body=spec)


class TemplatesService(_Named):
    """/api/v1/templates: reusable step templates."""

    noun = "templates"

    def put(self, name: str, **spec: Any) -> JSON:
        return self._t.call("PUT", item_path(self.noun, name), body=spec)
