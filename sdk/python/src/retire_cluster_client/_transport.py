"""One HTTP call of the native API: URL building, authentication (a simple
key or signed mode), the envelope, errors and 429 retries. Standard library
only (urllib)."""

import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urlsplit

from . import signing
from .errors import APIError, TransportError, error_class

API_PREFIX = "/api/v1"
USER_AGENT = "retire-cluster-client-python"

QueryValue = Union[str, int, float, bool, None, Sequence[str]]


def item_path(collection: str, item_id: str, suffix: str = "") -> str:
    """/api/v1/<collection>/<id><suffix>, with id escaped; an empty id is refused
    (DELETE /tasks/ is not what anyone means)."""
    if not item_id:
        raise ValueError("empty %s id" % collection.rstrip("s"))
    return "%s/%s/%s%s" % (API_PREFIX, collection, quote(str(item_id), safe=""), suffix)


def encode_query(query: Optional[Mapping[str, QueryValue]]) -> str:
    """Encode the query, leaving out None; booleans as true/false; lists as a comma list."""
    if not query:
        return ""
    pairs = []
    for k, v in query.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        pairs.append((k, str(v)))
    return urlencode(pairs)


class Response:
    """A raw answer: status, headers and body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Transport:
    """Sends requests to one server. Not for direct use: ClusterClient's
    services call it."""

    def __init__(self, root: str, *, api_key: Optional[str] = None, api_secret: Optional[str] = None,
                 timeout: float = 30.0, retry_rate_limited: bool = False, max_retries: int = 3,
                 ssl_context: Optional[ssl.SSLContext] = None, user_agent: str = USER_AGENT,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.api_key = api_key or None
        self.api_secret = api_secret or None
        self.timeout = timeout
        self.retry_rate_limited = retry_rate_limited
        self.max_retries = max_retries
        self.ssl_context = ssl_context
        self.user_agent = user_agent
        self.clock = clock
        # A proxy set in the environment must not capture a cluster on the
        # local network: only explicit proxies (none here) are used.
        handlers: List[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def auth_headers(self, method: str, path: str, raw_query: str, body: Optional[bytes]) -> Dict[str, str]:
        """Authentication headers of one request: X-API-Key for a simple key;
        token, timestamp, version and sign_str in signed mode."""
        if self.api_key is None:
            return {}
        if self.api_secret is None:
            return {"X-API-Key": self.api_key}
        ts = str(int(self.clock() * 1000))
        c = signing.canonical(method, path, raw_query, ts, signing.SIGNING_VERSION, body)
        return {"token": self.api_key, "timestamp": ts, "version": signing.SIGNING_VERSION,
                "sign_str": signing.sign(self.api_secret, c)}

    def open(self, method: str, path: str, *, query: Optional[Mapping[str, QueryValue]] = None,
             body: Any = None, headers: Optional[Mapping[str, str]] = None,
             timeout: Optional[float] = None, accept: str = "application/json") -> Any:
        """Open the request and return the live answer (for streams); an error
        status raises APIError."""
        raw_query = encode_query(query)
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        url = self.root + path + ("?" + raw_query if raw_query else "")
        h = {"Accept": accept, "User-Agent": self.user_agent}
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        # Sign the path as it goes on the wire, escapes included.
        h.update(self.auth_headers(method, urlsplit(url).path, raw_query, data))
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            return self._opener.open(req, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as e:
            try:
                err_body = e.read()
            except Exception:  # the body is only for the message
                err_body = b""
            raise api_error(e.code, dict(e.headers.items()), err_body) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise TransportError("%s %s: %s" % (method, url, reason)) from e

    def request(self, method: str, path: str, *, query: Optional[Mapping[str, QueryValue]] = None,
                body: Any = None, headers: Optional[Mapping[str, str]] = None) -> Response:
        """Send a request and read the whole answer; 429 is retried after
        Retry-After when the client was asked to."""
        attempt = 0
        while True:
            try:
                with self.open(method, path, query=query, body=body, headers=headers) as resp:
                    try:
                        raw = resp.read()
                    except OSError as e:
                        raise TransportError("%s %s: read answer: %s" % (method, path, e)) from e
                    return Response(resp.status, dict(resp.headers.items()), raw)
            except APIError as e:
                if e.status != 429 or not self.retry_rate_limited or attempt >= self.max_retries:
                    raise
                attempt += 1
                wait = getattr(e, "retry_after", None)
                time.sleep(1.0 if wait is None else max(0.0, min(wait, 900.0)))

    def call(self, method: str, path: str, *, query: Optional[Mapping[str, QueryValue]] = None,
             body: Any = None, headers: Optional[Mapping[str, str]] = None) -> Any:
        """Send a request and return the envelope's data."""
        data, _ = self.call_envelope(method, path, query=query, body=body, headers=headers)
        return data

    def call_envelope(self, method: str, path: str, **kw: Any) -> Tuple[Any, Dict[str, Any]]:
        """Send a request; return the envelope's data and the whole envelope."""
        resp = self.request(method, path, **kw)
        try:
            env = resp.json()
        except ValueError:
            raise APIError("BAD_ANSWER", "%s %s: answer is not a Drover envelope: %s" % (method, path, snippet(resp.body)),
                           status=resp.status, headers=resp.headers) from None
        if not isinstance(env, dict) or env.get("status") not in ("success", "error"):
            raise APIError("BAD_ANSWER", "%s %s: answer is not a Drover envelope: %s" % (method, path, snippet(resp.body)),
                           status=resp.status, headers=resp.headers)
        if env["status"] == "error":  # an error in a 2xx answer is still an error
            raise api_error(resp.status, resp.headers, resp.body)
        return env.get("data"), env


def snippet(body: bytes) -> str:
    s = body.decode("utf-8", "replace").strip()
    if len(s) > 200:
        s = s[:200] + "…"
    return s or "(empty)"


def api_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The exception for an error answer. A body that is not an error envelope
    still gets a code, HTTP_<status>, so callers can always branch on it."""
    cls = error_class(status)
    request_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id", "")
    try:
        env = json.loads(body.decode("utf-8"))
    except ValueError:
        env = None
    if isinstance(env, dict) and isinstance(env.get("error"), dict) and env["error"].get("code"):
        err = env["error"]
        return cls(err["code"], err.get("message", ""), details=err.get("details") or {},
                   request_id=env.get("request_id") or request_id, status=status, headers=headers)
    msg = http.client.responses.get(status, "error")
    if body.strip():
        msg += ": " + snippet(body)
    return cls("HTTP_%d" % status, msg, request_id=request_id, status=status, headers=headers)
