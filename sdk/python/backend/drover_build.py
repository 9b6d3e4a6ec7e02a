"""A PEP 517 (and PEP 660) build backend with no dependencies.

It lets ``pip install ./sdk/python`` work on a machine that reaches no
package index: pyproject.toml names this module with ``requires = []`` and
``backend-path``, so pip needs nothing but itself and the standard library.
It builds pure-Python wheels of what this repository ships and nothing more:
the packages under ``src/``, the ``[project]`` metadata of pyproject.toml
(name, version, description, readme, requires-python, license,
dependencies, scripts, urls), and an sdist of the tree pip gave it.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # Python 3.9 and 3.10: the small subset our files use
    _toml = None

__all__ = [
    "build_wheel", "build_sdist", "build_editable",
    "get_requires_for_build_wheel", "get_requires_for_build_sdist", "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable",
]

_WHEEL_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so that a build is reproducible


def parse_toml(text):
    """Parse the TOML subset of our pyproject files: tables, strings,
    booleans, integers, arrays of strings (over several lines) and inline
    tables of strings. tomllib is used instead where Python has it."""
    if _toml is not None:
        return _toml.loads(text)
    return _parse_subset(text)


def _parse_subset(text):
    root = {}
    table = root
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        i += 1
        if not line:
            continue
        if line.startswith("["):
            table = root
            for part in line.strip("[]").split("."):
                table = table.setdefault(part.strip().strip('"'), {})
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        while value.startswith("[") and not _balanced(value):
            value += " " + _strip_comment(lines[i]).strip()
            i += 1
        table[key.strip().strip('"')] = _value(value)
    return root


def _strip_comment(line):
    out, quote = [], None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out)


def _balanced(value):
    return value.count("[") == value.count("]")


def _value(v):
    if v.startswith('"') or v.startswith("'"):
        return v[1:-1]
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if v.startswith("["):
        return [_value(x.strip()) for x in _split(v[1:-1]) if x.strip()]
    if v.startswith("{"):
        return {k.strip().strip('"'): _value(x.strip())
                for k, _, x in (p.partition("=") for p in _split(v[1:-1])) if k.strip()}
    raise ValueError("drover_build: unsupported TOML value: " + v)


def _split(s):
    parts, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


class _Project:
    """The [project] table of ./pyproject.toml, read from the directory pip
    runs the backend in (the project's root)."""

    def __init__(self, root="."):
        self.root = os.path.abspath(root)
        with open(os.path.join(self.root, "pyproject.toml"), encoding="utf-8") as f:
            self.meta = parse_toml(f.read())["project"]
        self.name = self.meta["name"]
        self.version = self.meta["version"]
        self.dist = re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def dist_info(self):
        return "%s-%s.dist-info" % (self.dist, self.version)

    def metadata(self):
        m = self.meta
        lines = ["Metadata-Version: 2.1", "Name: " + self.name, "Version: " + self.version]
        if m.get("description"):
            lines.append("Summary: " + m["description"])
        if m.get("requires-python"):
            lines.append("Requires-Python: " + m["requires-python"])
        lic = m.get("license")
        if isinstance(lic, dict) and lic.get("text"):
            lines.append("License: " + lic["text"])
        elif isinstance(lic, str):
            lines.append("License: " + lic)
        for label, url in sorted(m.get("urls", {}).items()):
            lines.append("Project-URL: %s, %s" % (label, url))
        for c in m.get("classifiers", []):
            lines.append("Classifier: " + c)
        for dep in m.get("dependencies", []):
            lines.append("Requires-Dist: " + dep)
        body = ""
        readme = m.get("readme")
        if readme:
            lines.append("Description-Content-Type: text/markdown")
            with open(os.path.join(self.root, readme), encoding="utf-8") as f:
                body = "\n" + f.read()
        return "\n".join(lines) + "\n" + body

    def entry_points(self):
        scripts = self.meta.get("scripts", {})
        if not scripts:
            return None
        return "[console_scripts]\n" + "".join("%s = %s\n" % kv for kv in sorted(scripts.items()))

    def sources(self):
        """Files of the packages under src/, as (path in the wheel, path on disk)."""
        src = os.path.join(self.root, "src")
        out = []
        if not os.path.isdir(src):
            return out
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.endswith(".egg-info"))
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                full = os.path.join(dirpath, name)
                out.append((os.path.relpath(full, src).replace(os.sep, "/"), full))
        return out


class _Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []

    def add(self, arcname, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        info = zipfile.ZipInfo(arcname, _WHEEL_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.record.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def close(self, dist_info):
        record = dist_info + "/RECORD"
        self.record.append(record + ",,")
        self.zip.writestr(zipfile.ZipInfo(record, _WHEEL_TIME), "\n".join(self.record) + "\n")
        self.zip.close()


def _write_dist_info(p, add):
    add(p.dist_info + "/METADATA", p.metadata())
    add(p.dist_info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: drover_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    eps = p.entry_points()
    if eps:
        add(p.dist_info + "/entry_points.txt", eps)


def _build(wheel_directory, editable):
    p = _Project()
    filename = "%s-%s-py3-none-any.whl" % (p.dist, p.version)
    w = _Wheel(os.path.join(wheel_directory, filename))
    if editable:
        # A .pth file puts src/ on sys.path: edits show without reinstalling.
        w.add("__editable__.%s.pth" % p.dist, os.path.join(p.root, "src") + "\n")
    else:
        for arcname, full in p.sources():
            with open(full, "rb") as f:
                w.add(arcname, f.read())
    _write_dist_info(p, w.add)
    w.close(p.dist_info)
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=True)


def _prepare(metadata_directory):
    p = _Project()

    def add(name, data):
        path = os.path.join(metadata_directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(data)

    _write_dist_info(p, add)
    return p.dist_info


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _prepare(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _prepare(metadata_directory)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    p = _Project()
    base = "%s-%s" % (p.dist, p.version)
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(p.root):
            dirnames[:] = sorted(d for d in dirnames
                                 if d not in ("__pycache__", ".pytest_cache", "build", "dist") and not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                full = os.path.join(dirpath, name)
                tar.add(full, arcname=base + "/" + os.path.relpath(full, p.root), recursive=False)
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = p.metadata().encode("utf-8")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return filename
