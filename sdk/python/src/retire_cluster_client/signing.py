"""Signed mode (document 000; docs/signing.md): the canonical string and its
HMAC, the same algorithm as the Go SDK's api.Canonical and api.Sign."""

import hashlib
import hmac
from typing import Optional
from urllib.parse import parse_qsl, quote

#: The version header sent with signed requests.
SIGNING_VERSION = "1.0.0"


def canonical_query(raw_query: str) -> str:
    """Decode the query (``+`` is a space), sort its pairs by name then value
    (byte order), and re-encode each as name=value with every byte but
    A-Z a-z 0-9 - _ . ~ percent-encoded in upper case, joined by ``&``."""
    if not raw_query:
        return ""
    pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                      errors="surrogateescape")
    encoded = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")) for k, v in pairs]
    encoded.sort()
    return "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in encoded)


def canonical(method: str, path: str, raw_query: str, timestamp: str, version: str,
              body: Optional[bytes]) -> str:
    """The string a signed request's sign_str authenticates: six lines joined
    by newlines: method, path as sent (still escaped), canonical query,
    timestamp, version, and the hex SHA-256 of the body."""
    return "\n".join([method.upper(), path, canonical_query(raw_query), timestamp, version,
                      hashlib.sha256(body or b"").hexdigest()])


def sign(secret: str, canonical_string: str) -> str:
    """sign_str: the lowercase hex HMAC-SHA256 of the canonical string under secret."""
    return hmac.new(secret.encode("utf-8"), canonical_string.encode("utf-8"), hashlib.sha256).hexdigest()
