"""ClusterClient, the entry point: document 001's
``ClusterClient('http://localhost:8081', api_key='your-key')``."""

import ssl
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from ._transport import Transport
from .extensions import (ActionsService, ConnectionsService, PoolsService, QueuesService, RunsService,
                         TemplatesService, VariablesService, WorkflowsService)
from .monitor import MonitorService
from .services import (ClusterService, ConfigService, DevicesService, KeysService, LogsService,
                       StatsService, TasksService)


class ClusterClient:
    """A client of one Drover server's native API.

    ``url`` is the server root, e.g. ``http://localhost:8081`` (a URL ending
    in /api/v1 works too; a path prefix is kept, for a reverse proxy).
    ``api_key`` is sent as X-API-Key; with ``api_secret`` too, the key is a
    signed-mode key: api_key is its token, and every request is signed with
    the secret (docs/signing.md), which is never sent. When the server runs
    without --auth, the key is ignored.

    ``timeout`` bounds each request in seconds; ``retry_rate_limited`` retries
    an answer 429 after its Retry-After, up to ``max_retries`` times;
    ``poll_interval`` is the longest pause of tasks.wait and log following;
    ``ssl_context`` verifies an https server (e.g. one with a private CA).
    """

    def __init__(self, url: str, api_key: Optional[str] = None, *, api_secret: Optional[str] = None,
                 timeout: float = 30.0, retry_rate_limited: bool = False, max_retries: int = 3,
                 poll_interval: float = 1.0, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("ClusterClient: url %r: want http:// or https:// and a host" % url)
        if parts.query or parts.fragment:
            raise ValueError("ClusterClient: url %r must not have a query or fragment" % url)
        root = url.rstrip("/")
        if root.endswith("/api/v1"):
            root = root[: -len("/api/v1")]
        if api_secret and not api_key:
            raise ValueError("ClusterClient: api_secret needs api_key, the signed key's token")
        self.url = root
        self._t = Transport(root, api_key=api_key, api_secret=api_secret, timeout=timeout,
                            retry_rate_limited=retry_rate_limited, max_retries=max_retries,
                            ssl_context=ssl_context)
        self.cluster = ClusterService(self._t)
        self.devices = DevicesService(self._t)
        self.tasks = TasksService(self._t, poll_interval)
        self.logs = LogsService(self._t)
        self.stats = StatsService(self._t)
        self.config = ConfigService(self._t)
        self.keys = KeysService(self._t)
        self.monitor = MonitorService(self._t)
        # Extensions beyond document 001 (DESIGN §5); they answer their data whole.
        self.queues = QueuesService(self._t)
        self.pools = PoolsService(self._t)
        self.workflows = WorkflowsService(self._t)
        self.runs = RunsService(self._t)
        self.actions = ActionsService(self._t)
        self.variables = VariablesService(self._t)
        self.connections = ConnectionsService(self._t)
        self.templates = TemplatesService(self._t)

    def __repr__(self) -> str:
        return "ClusterClient(%r)" % self.url

    def health(self) -> Dict[str, Any]:
        """GET /health, outside /api/v1 and unauthenticated: ``status``
        ("healthy"), ``uptime_seconds``, ``version``. A bare object (as 001's
        reference server answers) is understood too."""
        body = self._t.request("GET", "/health").json()
        if isinstance(body, dict) and body.get("status") == "success" and isinstance(body.get("data"), dict):
            return body["data"]
        return body

    def ready(self) -> Dict[str, Any]:
        """GET /ready, for load balancers: ``status`` "ready"."""
        return self._t.call("GET", "/ready")

    def metrics(self) -> str:
        """GET /metrics: the Prometheus text exposition."""
        return self._t.request("GET", "/metrics").body.decode("utf-8")

    def openapi(self) -> Dict[str, Any]:
        """GET /openapi.json: the OpenAPI 3.1 document of the server's native API."""
        return self._t.request("GET", "/openapi.json").json()

    def request(self, method: str, path: str, *, query: Optional[Dict[str, Any]] = None,
                body: Any = None) -> Any:
        """Call any route of the native API (path below the root, such as
        "/api/v1/queues") and return the envelope's data: for routes this
        client does not wrap yet."""
        return self._t.call(method, path, query=query, body=body)
