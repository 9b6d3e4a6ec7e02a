"""Python client of a Drover cluster's native API (document 001, the
Retire-Cluster REST API), standard library only.

    from retire_cluster_client import ClusterClient
    client = ClusterClient('http://localhost:8081', api_key='your-key')
    devices = client.devices.list(status='online')
    task_id = client.tasks.submit('echo', {'message': 'Hello'})
    for event in client.monitor.stream(['tasks']):
        print(event)

The CLI (``retire-cluster``) is retire_cluster_client.cli; the worker
library is retire_cluster_client.worker.
"""

from .client import ClusterClient
from .errors import (APIError, AuthenticationError, ClusterClientError, ConflictError, NotFoundError,
                     PermissionDeniedError, RateLimitError, ServerError, TransportError, ValidationError,
                     WaitTimeout)
from .monitor import Event
from .services import Page, terminal

__version__ = "0.1.0"

__all__ = [
    "ClusterClient", "Event", "Page", "terminal",
    "ClusterClientError", "APIError", "TransportError", "ValidationError", "AuthenticationError",
    "PermissionDeniedError", "NotFoundError", "ConflictError", "RateLimitError", "ServerError",
    "WaitTimeout", "__version__",
]
