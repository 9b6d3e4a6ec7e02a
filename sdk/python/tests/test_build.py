"""The in-tree build backend: its TOML reading on Pythons without tomllib, the
wheel it builds, and an offline install on the oldest Python at hand."""

import base64
import csv
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import SDK

spec = importlib.util.spec_from_file_location("drover_build", os.path.join(SDK, "backend", "drover_build.py"))
drover_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(drover_build)

PROJECTS = [SDK, os.path.join(SDK, "cli")]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="compares with tomllib")
@pytest.mark.parametrize("root", PROJECTS)
def test_toml_subset_reads_like_tomllib(root):
    import tomllib
    with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    assert drover_build._parse_subset(text) == tomllib.loads(text)


def build(root, out, hook="build_wheel"):
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return getattr(drover_build, hook)(str(out))
    finally:
        os.chdir(cwd)


def test_wheel(tmp_path):
    name = build(SDK, tmp_path)
    assert name == "retire_cluster_client-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(str(tmp_path / name)) as z:
        names = set(z.namelist())
        assert {"retire_cluster_client/__init__.py", "retire_cluster_client/py.typed",
                "retire_cluster_client/worker.py", "retire_cluster_client/cli.py"} <= names
        assert not [n for n in names if "__pycache__" in n]
        di = "retire_cluster_client-0.1.0.dist-info/"
        meta = z.read(di + "METADATA").decode()
        assert "Name: retire-cluster-client\n" in meta and "Requires-Python: >=3.9\n" in meta
        assert "retire-cluster = retire_cluster_client.cli:main" in z.read(di + "entry_points.txt").decode()
        rows = list(csv.reader(io.StringIO(z.read(di + "RECORD").decode())))
        assert {r[0] for r in rows} == names
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                continue
            data = z.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == "sha256=" + want and int(size) == len(data)


def test_cli_wheel_and_sdists(tmp_path):
    name = build(os.path.join(SDK, "cli"), tmp_path)
    with zipfile.ZipFile(str(tmp_path / name)) as z:
        meta = z.read("retire_cluster_cli-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: retire-cluster-client==0.1.0" in meta
    assert build(SDK, tmp_path, "build_sdist") == "retire_cluster_client-0.1.0.tar.gz"
    assert build(SDK, tmp_path, "build_editable").endswith(".whl")


def older_pythons():
    """Python 3.9 or 3.10 interpreters that run (a pyenv shim may not)."""
    import glob
    found = {}
    for cand in [shutil.which("python3.9"), shutil.which("python3.10")] + \
            sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3"))):
        if not cand:
            continue
        try:
            v = subprocess.run([cand, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=20)
        except OSError:
            continue
        if v.returncode == 0 and v.stdout.strip() in ("3.9", "3.10"):
            found.setdefault(v.stdout.strip(), cand)
    return [found[k] for k in sorted(found)]


OLD = older_pythons()

SMOKE = """
import sys
from retire_cluster_client import ClusterClient
client = ClusterClient(sys.argv[1], api_key='your-key')
devices = client.devices.list(status='online')
task_id = client.tasks.submit('echo', {'message': 'Hello'})
assert client.tasks.wait(task_id, 30)['result']['output'] == 'Hello'
for event in client.monitor.stream(['tasks'], last_event_id=1):
    print(event.type)
    break
"""


@pytest.mark.skipif(not OLD, reason="no Python 3.9 or 3.10 here")
@pytest.mark.parametrize("python", OLD)
def test_offline_install_on_older_python(python, cluster, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
           "--disable-pip-version-check"]
    subprocess.run(pip + [SDK, os.path.join(SDK, "cli")], check=True, timeout=300)
    script = tmp_path / "smoke.py"
    script.write_text(SMOKE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(venv / "bin" / "python"), str(script), cluster.url], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("task_")
    out = subprocess.run([str(venv / "bin" / "retire-cluster"), "--api-url", cluster.url, "devices", "list"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "gw-a" in out.stdout, out.stderr


def test_types():
    """The package is typed (py.typed): mypy, when installed (Debian's
    python3-mypy), finds every function annotated and no error."""
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--python-version", "3.9", "--disallow-untyped-defs",
                          "--disallow-incomplete-defs", "--disallow-any-generics", "--warn-unused-ignores",
                          "--no-incremental", os.path.join(SDK, "src", "retire_cluster_client")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
