"""The exceptions of the client: every error answer of the server becomes an
APIError carrying document 001's error code, message and details and the
request id to find the call in the server's log."""

from typing import Any, Dict, Mapping, Optional


class ClusterClientError(Exception):
    """Base of every exception this package raises."""


class TransportError(ClusterClientError):
    """The server could not be reached, or the connection broke."""


class APIError(ClusterClientError):
    """An error answer of the server.

    ``code`` is the 001 code (``TASK_NOT_FOUND``, ``VALIDATION_ERROR``, …), or
    ``HTTP_<status>`` when the answer was not a Drover envelope (a proxy's
    page); ``details`` is the error's details object; ``request_id`` the
    envelope's request_id (else the X-Request-ID header); ``status`` the HTTP
    status; ``headers`` the answer's headers, names in lower case
    (``x-ratelimit-remaining``, ``retry-after``).
    """

    def __init__(self, code: str, message: str, *, details: Optional[Dict[str, Any]] = None,
                 request_id: str = "", status: int = 0, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})
        self.request_id = request_id
        self.status = status
        self.headers: Dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}

    def __repr__(self) -> str:
        return "%s(code=%r, message=%r, status=%r, request_id=%r)" % (
            type(self).__name__, self.code, self.message, self.status, self.request_id)


class ValidationError(APIError):
    """400: the request was refused as malformed or impossible
    (VALIDATION_ERROR, INVALID_TASK_TYPE, DEVICE_OFFLINE, INSUFFICIENT_RESOURCES, …)."""


class AuthenticationError(APIError):
    """401: no key, an unknown key, or a bad signature (AUTHENTICATION_REQUIRED, BAD_SIGNATURE, …)."""


class PermissionDeniedError(APIError):
    """403: the key lacks the scope (PERMISSION_DENIED)."""


class NotFoundError(APIError):
    """404: DEVICE_NOT_FOUND, TASK_NOT_FOUND, KEY_NOT_FOUND, …"""


class ConflictError(APIError):
    """409: the resource is not in a state that allows the call (e.g. cancelling a finished task)."""


class RateLimitError(APIError):
    """429 RATE_LIMIT_EXCEEDED. ``retry_after`` is the Retry-After header in
    seconds (None when absent)."""

    @property
    def retry_after(self) -> Optional[float]:
        v = self.headers.get("retry-after")
        try:
            return float(v) if v is not None else None
        except ValueError:
            return None


class ServerError(APIError):
    """5xx: the server failed (INTERNAL_ERROR, or a proxy's error)."""


class WaitTimeout(ClusterClientError, TimeoutError):
    """tasks.wait gave up before the task ended. ``task`` is its last state."""

    def __init__(self, task_id: str, timeout: float, task: Optional[Dict[str, Any]] = None) -> None:
        super().__init__("task %s did not end within %gs" % (task_id, timeout))
        self.task_id = task_id
        self.task = task


def error_class(status: int) -> type:
    """The APIError subclass for an HTTP status."""
    if status == 400 or status == 422:
        return ValidationError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return APIError
