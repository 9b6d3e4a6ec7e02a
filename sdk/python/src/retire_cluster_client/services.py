"""The resource services of ClusterClient: one class per noun of the native
API (document 001 and its extensions), each method one operation. Answers
are the envelope's data as plain dicts and lists, exactly as the server sent
them (see the api/ package of the Go module for every field)."""

import time
from datetime import datetime
from typing import Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Union, overload

from ._transport import API_PREFIX, Transport, item_path
from .errors import WaitTimeout


JSON = Dict[str, Any]

TERMINAL = ("completed", "failed", "cancelled")


def terminal(status: Optional[str]) -> bool:
    """Whether a task status is final: completed, failed or cancelled."""
    return status in TERMINAL


class Page(List[JSON]):
    """A page of a list: the items, and the rest of the answer's data
    (``total``, ``online``, ``pending``, ``cursor``, …) as attributes and in
    ``data``."""

    def __init__(self, items: Sequence[JSON], data: JSON) -> None:
        super().__init__(items)
        self.data = data

    @property
    def total(self) -> int:
        return int(self.data.get("total", len(self)))

    def __getattr__(self, name: str) -> Any:
        if name != "data" and name in self.data:
            return self.data[name]
        raise AttributeError(name)


def _rfc3339(t: Union[str, datetime, None]) -> Optional[str]:
    if t is None or isinstance(t, str):
        return t
    if t.tzinfo is None:
        t = t.astimezone()
    return t.isoformat()


class _Service:
    def __init__(self, transport: Transport) -> None:
        self._t = transport


class ClusterService(_Service):
    """/api/v1/cluster: the state of the whole cluster."""

    def status(self) -> JSON:
        """The cluster summary: devices, resources, roles, tasks (``data.cluster_stats``)."""
        return self._t.call("GET", API_PREFIX + "/cluster/status")["cluster_stats"]

    def health(self) -> JSON:
        """Health of the cluster's parts: ``overall_health`` and ``checks``."""
        return self._t.call("GET", API_PREFIX + "/cluster/health")

    def metrics(self, period: Optional[str] = None, type: Optional[str] = None) -> JSON:
        """Average and peak resource use and task outcomes over period (1h, 24h,
        7d, 30d), optionally one section (cpu, memory, network, disk, tasks)."""
        return self._t.call("GET", API_PREFIX + "/cluster/metrics", query={"period": period, "type": type})

    def config(self) -> JSON:
        """The cluster configuration, at 001's /api/v1/cluster/config (alias of config.get())."""
        return self._t.call("GET", API_PREFIX + "/cluster/config")["config"]

    def update_config(self, patch: Optional[JSON] = None, **sections: Any) -> JSON:
        """Change part of the configuration, at /api/v1/cluster/config (alias of config.update())."""
        return self._t.call("PUT", API_PREFIX + "/cluster/config", body=_patch(patch, sections))


class DevicesService(_Service):
    """/api/v1/devices: the workers of the cluster."""

    def list(self, status: Optional[str] = None, role: Optional[str] = None, sort: Optional[str] = None,
             limit: Optional[int] = None) -> Page:
        """Devices (status online, offline, draining or all; role; sort name, cpu,
        memory or last_seen; limit). The page has ``total``, ``online``, ``offline``."""
        data = self._t.call("GET", API_PREFIX + "/devices",
                            query={"status": status, "role": role, "sort": sort, "limit": limit})
        return Page(data.get("devices") or [], data)

    def get(self, device_id: str) -> JSON:
        """One device, with ``detailed_info`` and ``performance_history``."""
        return self._t.call("GET", item_path("devices", device_id))["device"]

    def ping(self, device_id: str, timeout: Optional[float] = None, count: Optional[int] = None) -> JSON:
        """Round trips through the device's control channel (``data.ping_results``)."""
        body: JSON = {}
        if timeout is not None:
            body["timeout"] = timeout
        if count is not None:
            body["count"] = count
        return self._t.call("POST", item_path("devices", device_id, "/ping"), body=body)["ping_results"]

    def suspend(self, device_id: str) -> JSON:
        """Suspend a device: it finishes what it runs and leases nothing new
        until resumed (admin scope). Answers ``device_id``, ``status``, ``suspended``."""
        return self._t.call("POST", item_path("devices", device_id, "/suspend"))

    def resume(self, device_id: str) -> JSON:
        """Resume a suspended device (admin scope)."""
        return self._t.call("POST", item_path("devices", device_id, "/resume"))

    def remove(self, device_id: str, force: bool = False) -> JSON:
        """Remove a device; with force, even with active tasks (they are cancelled).
        Answers ``removed_device`` and ``cancelled_tasks``."""
        return self._t.call("DELETE", item_path("devices", device_id), query={"force": True if force else None})


class TasksService(_Service):
    """/api/v1/tasks: submit, list, follow and control tasks."""

    def __init__(self, transport: Transport, poll_interval: float) -> None:
        super().__init__(transport)
        self._poll = poll_interval

    @staticmethod
    def request(task_type: str, payload: Any = None, *, priority: Optional[str] = None,
                queue: Optional[str] = None, device_id: Optional[str] = None,
                requirements: Optional[JSON] = None, timeout: Optional[int] = None,
                max_retries: Optional[int] = None, retry_backoff_seconds: Optional[float] = None,
                delay_seconds: Optional[float] = None, run_at: Union[str, datetime, None] = None,
                idempotency_key: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> JSON:
        """The body of a submit (one item of a batch), leaving out what is not given."""
        body: JSON = {"task_type": task_type}
        fields = {"payload": payload, "priority": priority, "queue": queue, "device_id": device_id,
                  "requirements": requirements, "timeout": timeout, "max_retries": max_retries,
                  "retry_backoff_seconds": retry_backoff_seconds, "delay_seconds": delay_seconds,
                  "run_at": _rfc3339(run_at), "idempotency_key": idempotency_key,
                  "labels": dict(labels) if labels is not None else None}
        body.update((k, v) for k, v in fields.items() if v is not None)
        return body

    def create(self, task_type: str, payload: Any = None, **options: Any) -> JSON:
        """Submit a task and return the whole answer: ``task_id``, ``status``,
        ``assigned_device``, ``estimated_completion`` and ``duplicate`` (an earlier
        submit with the same idempotency key). Options are those of request()."""
        body = self.request(task_type, payload, **options)
        headers = {"Idempotency-Key": body["idempotency_key"]} if "idempotency_key" in body else None
        return self._t.call("POST", API_PREFIX + "/tasks", body=body, headers=headers)

    def submit(self, task_type: str, payload: Any = None, *, priority: Optional[str] = None,
               queue: Optional[str] = None, device_id: Optional[str] = None,
               requirements: Optional[JSON] = None, timeout: Optional[int] = None,
               max_retries: Optional[int] = None, retry_backoff_seconds: Optional[float] = None,
               delay_seconds: Optional[float] = None, run_at: Union[str, datetime, None] = None,
               idempotency_key: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> str:
        """Submit a task and return its id, as in document 001:
        ``client.tasks.submit('echo', {'message': 'Hello'})``.

        priority is low, normal, high or critical; queue defaults to FifoQ;
        device_id pins the task to one device; requirements is
        ``{min_cpu_cores, min_memory_gb, platform, role, labels}``; timeout is in
        seconds; run_at (a datetime or RFC 3339 string) or delay_seconds defer it;
        a second submit with the same idempotency_key returns the first task.
        """
        return self.create(task_type, payload, priority=priority, queue=queue, device_id=device_id,
                           requirements=requirements, timeout=timeout, max_retries=max_retries,
                           retry_backoff_seconds=retry_backoff_seconds, delay_seconds=delay_seconds,
                           run_at=run_at, idempotency_key=idempotency_key, labels=labels)["task_id"]

    def batch(self, tasks: Sequence[JSON]) -> JSON:
        """Submit several tasks, all or none. Each item is a request body (build
        one with TasksService.request). Answers ``tasks`` (in order) and ``count``."""
        return self._t.call("POST", API_PREFIX + "/tasks/batch", body={"tasks": list(tasks)})

    def list(self, status: Optional[str] = None, device_id: Optional[str] = None,
             task_type: Optional[str] = None, queue: Optional[str] = None,
             since: Union[str, datetime, None] = None, limit: Optional[int] = None,
             offset: Optional[int] = None) -> Page:
        """One page of tasks, newest first. The page has ``total`` and the counts
        ``pending``, ``running``, ``completed``, ``failed``, ``cancelled`` over every
        task the filter matches."""
        data = self._t.call("GET", API_PREFIX + "/tasks", query={
            "status": status, "device_id": device_id, "task_type": task_type, "queue": queue,
            "since": _rfc3339(since), "limit": limit, "offset": offset})
        return Page(data.get("tasks") or [], data)

    def iterate(self, status: Optional[str] = None, device_id: Optional[str] = None,
                task_type: Optional[str] = None, queue: Optional[str] = None,
                since: Union[str, datetime, None] = None, page_size: int = 50) -> Iterator[JSON]:
        """Every task the filter matches, newest first, fetched a page at a time
        (offset paging: tasks submitted meanwhile may shift a page by a few)."""
        offset = 0
        while True:
            page = self.list(status=status, device_id=device_id, task_type=task_type, queue=queue,
                             since=since, limit=page_size, offset=offset)
            yield from page
            offset += len(page)
            if not page or offset >= page.total:
                return

    def get(self, task_id: str) -> JSON:
        """One task in detail: payload, result, detailed_log, resource_usage."""
        return self._t.call("GET", item_path("tasks", task_id))["task"]

    def cancel(self, task_id: str) -> JSON:
        """Cancel a pending or running task: ``cancelled_task``, ``was_running``."""
        return self._t.call("DELETE", item_path("tasks", task_id))

    def retry(self, task_id: str, priority: Optional[str] = None) -> JSON:
        """Submit a failed or cancelled task again: ``new_task_id``, ``original_task_id``."""
        body = {"priority": priority} if priority else {}
        return self._t.call("POST", item_path("tasks", task_id, "/retry"), body=body)

    @overload
    def logs(self, task_id: str, cursor: int = 0, limit: Optional[int] = None,
             follow: Literal[False] = False) -> JSON: ...

    @overload
    def logs(self, task_id: str, cursor: int = 0, limit: Optional[int] = None, *,
             follow: Literal[True]) -> Iterator[JSON]: ...

    def logs(self, task_id: str, cursor: int = 0, limit: Optional[int] = None,
             follow: bool = False) -> Any:
        """The task's log lines after cursor: ``logs``, ``cursor`` (pass it back
        to read on) and the task's ``status``. With follow=True, an iterator of
        every line from cursor on, as they are written, that ends when the task
        has ended and its log is drained (see follow_logs)."""
        if follow:
            return self.follow_logs(task_id, cursor=cursor)
        return self._t.call("GET", item_path("tasks", task_id, "/logs"),
                            query={"cursor": cursor or None, "limit": limit})

    def follow_logs(self, task_id: str, cursor: int = 0, poll_interval: Optional[float] = None) -> Iterator[JSON]:
        """Yield each log line of the task as it is written, until the task has
        ended and its log is drained. Pages come back to back while there are
        lines; after an empty one it waits 50 ms, doubling up to poll_interval."""
        pause = _Pause(poll_interval or self._poll)
        while True:
            page = self.logs(task_id, cursor=cursor)
            lines = page.get("logs") or []
            yield from lines
            if lines:
                if page["cursor"] <= cursor:
                    raise RuntimeError("logs of task %s: cursor did not advance past %d" % (task_id, cursor))
                cursor = page["cursor"]
                pause.reset()
                continue
            # The worker sends its log before its result: a terminal status with an
            # empty page means no line can follow.
            if terminal(page.get("status")):
                return
            pause.wait()

    def wait(self, task_id: str, timeout: Optional[float] = None, poll_interval: Optional[float] = None) -> JSON:
        """Poll the task until it is completed, failed or cancelled and return it.
        A failed task is not an exception: look at its status. Raises WaitTimeout
        (a TimeoutError) after timeout seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _Pause(poll_interval or self._poll, first=poll_interval)
        while True:
            task = self.get(task_id)
            if terminal(task.get("status")):
                return task
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(task_id, timeout or 0, task)
                pause.wait(limit=left)
            else:
                pause.wait()


class _Pause:
    """Spaces out the requests of a wait: 50 ms first, doubling up to max."""

    def __init__(self, max_pause: float, first: Optional[float] = None) -> None:
        self.start = min(first or 0.05, max_pause)
        self.next = self.start
        self.max = max_pause

    def wait(self, limit: Optional[float] = None) -> None:
        d = self.next if limit is None else min(self.next, limit)
        self.next = min(self.next * 2, self.max)
        time.sleep(d)

    def reset(self) -> None:
        self.next = self.start


class LogsService(_Service):
    """/api/v1/logs: the cluster's own log (server and worker events, task lifecycle)."""

    def list(self, level: Optional[str] = None, device_id: Optional[str] = None,
             component: Optional[str] = None, task_id: Optional[str] = None,
             since: Union[str, datetime, None] = None, limit: Optional[int] = None,
             cursor: Optional[int] = None, order: Optional[str] = None) -> Page:
        """A page of entries (level debug, info, warning or error and above; since
        an RFC 3339 time or a duration back from now like "1h"; order asc or desc).
        The page has ``total``, ``cursor`` and ``has_more``."""
        data = self._t.call("GET", API_PREFIX + "/logs", query={
            "level": level, "device_id": device_id, "component": component, "task_id": task_id,
            "since": _rfc3339(since), "limit": limit, "cursor": cursor, "order": order})
        return Page(data.get("logs") or [], data)

    def iterate(self, level: Optional[str] = None, device_id: Optional[str] = None,
                component: Optional[str] = None, task_id: Optional[str] = None,
                since: Union[str, datetime, None] = None, page_size: int = 100,
                order: Optional[str] = None) -> Iterator[JSON]:
        """Every entry that matches, a page at a time, following the cursor."""
        cursor = None
        while True:
            page = self.list(level=level, device_id=device_id, component=component, task_id=task_id,
                             since=since, limit=page_size, cursor=cursor, order=order)
            yield from page
            if not page or not page.data.get("has_more"):
                return
            cursor = page.data["cursor"]


class StatsService(_Service):
    """/api/v1/stats: task outcomes and device utilization over a period."""

    def tasks(self, period: Optional[str] = None, group_by: Optional[str] = None) -> JSON:
        """Task outcomes over period (1h, 24h, 7d, 30d), grouped by device, task_type or hour."""
        return self._t.call("GET", API_PREFIX + "/stats/tasks",
                            query={"period": period, "group_by": group_by})["task_stats"]

    def devices(self, period: Optional[str] = None) -> JSON:
        """Device utilization, uptime and a performance ranking over period."""
        return self._t.call("GET", API_PREFIX + "/stats/devices", query={"period": period})["device_stats"]


def _patch(patch: Optional[JSON], sections: Mapping[str, Any]) -> JSON:
    body: JSON = dict(patch or {})
    body.update(sections)
    return body


class ConfigService(_Service):
    """/api/v1/config: the cluster configuration."""

    def get(self) -> JSON:
        """The configuration: ``server``, ``cluster``, ``logging``, ``metrics``."""
        return self._t.call("GET", API_PREFIX + "/config")["config"]

    def update(self, patch: Optional[JSON] = None, **sections: Any) -> JSON:
        """Change part of it, e.g. ``update(cluster={'heartbeat_interval': 30})``.
        Answers ``updated_fields`` and ``restart_required``; nothing changes on an error."""
        return self._t.call("PUT", API_PREFIX + "/config", body=_patch(patch, sections))


class KeysService(_Service):
    """/api/v1/keys: API keys and worker join tokens (an admin key when the
    server runs with --auth)."""

    def create(self, name: str, scopes: Optional[Sequence[str]] = None, *, signed: bool = False,
               expires_in: Optional[int] = None, join: bool = False, pool: Optional[str] = None,
               uses: Optional[int] = None, rate_limits: Optional[Mapping[str, int]] = None) -> JSON:
        """Create a key (scopes read, write, admin, agent, exec:shell) or, with
        join=True, a worker join token. The answer is the only time its
        ``token`` (and a signed key's ``secret``) is shown."""
        body: JSON = {"name": name}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if signed:
            body["signed"] = True
        if expires_in:
            body["expires_in"] = expires_in
        if join:
            body["join"] = True
        if pool:
            body["pool"] = pool
        if uses:
            body["uses"] = uses
        if rate_limits:
            body["rate_limits"] = dict(rate_limits)
        return self._t.call("POST", API_PREFIX + "/keys", body=body)

    def list(self, kind: Optional[str] = None, include_revoked: bool = False) -> Page:
        """Keys without their tokens (kind api, join or all)."""
        data = self._t.call("GET", API_PREFIX + "/keys",
                            query={"kind": kind, "include_revoked": True if include_revoked else None})
        return Page(data.get("keys") or [], data)

    def get(self, key_id: str) -> JSON:
        """One key."""
        return self._t.call("GET", item_path("keys", key_id))["key"]

    def revoke(self, key_id: str) -> JSON:
        """Revoke a key: ``revoked_key``, ``revoked_at``."""
        return self._t.call("DELETE", item_path("keys", key_id))

    def rotate(self, key_id: str, grace_seconds: Optional[int] = None) -> JSON:
        """Replace a key by a new one with the same name, scopes and mode; the old
        one keeps working for grace_seconds (default: the server's, an hour)."""
        body = {} if grace_seconds is None else {"grace_seconds": grace_seconds}
        return self._t.call("POST", item_path("keys", key_id, "/rotate"), body=body)


__all__ = ["ClusterService", "DevicesService", "TasksService", "LogsService", "StatsService",
           "ConfigService", "KeysService", "Page", "terminal"]
