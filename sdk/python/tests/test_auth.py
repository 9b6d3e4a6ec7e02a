"""Keys, simple and signed mode, and rate limits against servers with --auth."""

import hashlib
import time

import pytest

from conftest import ADMIN_KEY, Server, wait_until
from retire_cluster_client import (AuthenticationError, PermissionDeniedError, RateLimitError,
                                   signing)


def test_worked_example_of_docs_signing_md():
    body = b'{"task_id": 388, "points": 2}'
    c = signing.canonical("post", "/api/deployment/task/change_points", "note=scale+up&dry_run=true",
                          "1747379023000", "1.0.0", body)
    assert c == ("POST\n/api/deployment/task/change_points\ndry_run=true&note=scale%20up\n1747379023000\n1.0.0\n"
                 "e4f93c903eb1edab84a3ebab92ba95c5a8cc652f8a60ba188de2a691fff2e2ce")
    assert signing.sign("drvs_example-secret-do-not-use", c) == \
        "e4cd38690694b1086c13c1ad1d0c1489c32612d30fa5bba7a99beb5aa08b9043"


@pytest.mark.parametrize("raw,want", [
    ("", ""),
    ("b=2&a=1", "a=1&b=2"),
    ("a=2&a=1&a=10", "a=1&a=10&a=2"),
    ("flag&x=", "flag=&x="),
    ("q=%7E~%2F+*", "q=~~%2F%20%2A"),
    ("k%C3%A9y=v%C3%A9", "k%C3%A9y=v%C3%A9"),
])
def test_canonical_query(raw, want):
    assert signing.canonical_query(raw) == want


def test_empty_body_hash():
    c = signing.canonical("GET", "/x", "", "1", "1.0.0", None)
    assert c.endswith(hashlib.sha256(b"").hexdigest())


def test_authentication_required(auth_cluster):
    anon = auth_cluster.client()
    assert anon.health()["status"] == "healthy"  # public
    with pytest.raises(AuthenticationError) as e:
        anon.devices.list()
    assert e.value.code == "AUTHENTICATION_REQUIRED" and e.value.status == 401
    with pytest.raises(AuthenticationError):
        auth_cluster.client(api_key="wrong").tasks.list()


def test_keys_and_scopes(auth_cluster):
    admin = auth_cluster.client(api_key=ADMIN_KEY)
    ro = admin.keys.create("reader", ["read"], expires_in=3600, rate_limits={"reads": 500})
    assert ro["token"] and ro["key"]["scopes"] == ["read"] and ro["key"]["expires_at"]
    reader = auth_cluster.client(api_key=ro["token"])
    assert "gw-auth" in [d["id"] for d in reader.devices.list()]
    with pytest.raises(PermissionDeniedError) as e:
        reader.tasks.submit("echo", {"message": "no"})
    assert e.value.code == "PERMISSION_DENIED" and e.value.status == 403
    assert admin.keys.get(ro["key"]["id"])["name"] == "reader"
    assert ro["key"]["id"] in [k["id"] for k in admin.keys.list(kind="api")]
    rot = admin.keys.rotate(ro["key"]["id"], grace_seconds=0)
    assert rot["token"] != ro["token"] and rot["old_key"]["id"] == ro["key"]["id"]
    assert auth_cluster.client(api_key=rot["token"]).devices.list() is not None
    with pytest.raises(AuthenticationError):
        reader.devices.list()
    r = admin.keys.revoke(rot["key"]["id"])
    assert r["revoked_key"] == rot["key"]["id"]
    wait_until(lambda: _refused(auth_cluster.client(api_key=rot["token"])), 5, what="revocation")
    assert rot["key"]["id"] in [k["id"] for k in admin.keys.list(include_revoked=True)]
    join = admin.keys.create("join", join=True, uses=2, pool="")
    assert join["key"]["kind"] == "join"


def _refused(c):
    try:
        c.devices.list()
        return False
    except AuthenticationError:
        return True


def test_signed_mode(auth_cluster):
    admin = auth_cluster.client(api_key=ADMIN_KEY)
    k = admin.keys.create("signer", ["read", "write"], signed=True)
    assert k["secret"] and k["key"]["signed"] is True
    c = auth_cluster.client(api_key=k["token"], api_secret=k["secret"])
    tid = c.tasks.submit("echo", {"message": "signed from Python"})
    assert c.tasks.wait(tid, timeout=20)["result"]["output"] == "signed from Python"
    # A query is signed too, and an id is signed as escaped on the wire.
    assert tid in [t["task_id"] for t in c.tasks.list(status="completed", limit=50, task_type="echo")]
    assert c.tasks.get(tid)["task_id"] == tid
    assert c.logs.list(since="1h", limit=5) is not None
    # The same token sent as a simple key is refused: a signed key must sign.
    with pytest.raises(AuthenticationError) as e:
        auth_cluster.client(api_key=k["token"]).tasks.list()
    assert e.value.code == "MODE_MISMATCH"
    with pytest.raises(AuthenticationError) as e:
        auth_cluster.client(api_key=k["token"], api_secret="not-the-secret").tasks.list()
    assert e.value.code == "BAD_SIGNATURE"
    # A timestamp in seconds instead of milliseconds, and one far off.
    seconds = auth_cluster.client(api_key=k["token"], api_secret=k["secret"])
    seconds._t.clock = lambda: 1747379023 / 1000.0
    with pytest.raises(AuthenticationError) as e:
        seconds.tasks.list()
    assert e.value.code == "TIMESTAMP_IN_SECONDS"
    old = auth_cluster.client(api_key=k["token"], api_secret=k["secret"])
    old._t.clock = lambda: 1747379023.0
    with pytest.raises(AuthenticationError) as e:
        old.tasks.list()
    assert e.value.code == "TIMESTAMP_SKEW"
    # The event stream signs its GET too.
    for ev in c.monitor.stream(["tasks"], last_event_id=1):
        assert ev.id > 1
        break


def test_signed_replay_refused(auth_cluster):
    admin = auth_cluster.client(api_key=ADMIN_KEY)
    k = admin.keys.create("replayer", ["read"], signed=True)
    c = auth_cluster.client(api_key=k["token"], api_secret=k["secret"])
    frozen = time.time()
    c._t.clock = lambda: frozen  # the same timestamp twice: the same signature
    c.devices.list()
    with pytest.raises(AuthenticationError) as e:
        c.devices.list()
    assert e.value.code == "REPLAYED"


def test_rate_limit_and_retry_after(drover_bin, tmp_path):
    srv = Server(drover_bin, str(tmp_path), ["--rate-limit", "--rate-reads", "3", "--rate-window", "2s"])
    srv.start()
    try:
        c = srv.client()
        with pytest.raises(RateLimitError) as e:
            for _ in range(10):
                c.devices.list()
        err = e.value
        assert err.code == "RATE_LIMIT_EXCEEDED" and err.status == 429
        assert err.retry_after is not None and 0 < err.retry_after <= 2
        assert err.headers.get("x-ratelimit-limit") == "3"
        patient = srv.client(retry_rate_limited=True, max_retries=3)
        for _ in range(5):
            assert patient.devices.list() is not None
    finally:
        srv.stop()
