"""What a worker says of its machine, from the standard library: os.cpu_count,
/proc/stat and /proc/meminfo (Linux and Android), shutil.disk_usage, and a
battery under /sys/class/power_supply when there is one."""

import os
import platform
import shutil
import socket
import sys
from typing import Any, Dict, List, Optional, Tuple

GiB = float(1 << 30)


def platform_info() -> Dict[str, str]:
    system = platform.system().lower() or sys.platform
    if "ANDROID_ROOT" in os.environ or hasattr(sys, "getandroidapilevel"):
        system = "android"  # Termux reports linux
    return {"os": system, "arch": platform.machine(), "python_version": platform.python_version(),
            "kernel": platform.release()}


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _cpu_times() -> Optional[Tuple[int, int]]:
    """(busy, total) jiffies from /proc/stat."""
    text = _read("/proc/stat")
    if not text or not text.startswith("cpu "):
        return None
    fields = [int(x) for x in text.splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def _battery() -> Optional[Dict[str, Any]]:
    base = "/sys/class/power_supply"
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return None
    for name in names:
        if (_read(os.path.join(base, name, "type")) or "").strip() != "Battery":
            continue
        cap = (_read(os.path.join(base, name, "capacity")) or "").strip()
        if not cap.isdigit():
            continue
        status = (_read(os.path.join(base, name, "status")) or "").strip()
        return {"level": float(cap), "charging": status in ("Charging", "Full")}
    return None


def interfaces() -> List[str]:
    try:
        return sorted({name for _, name in socket.if_nameindex() if name != "lo"})
    except (OSError, AttributeError):
        return []


class Sampler:
    """Samples the machine's resources; CPU use is measured between two calls."""

    def __init__(self, disk_path: Optional[str] = None) -> None:
        self.disk_path = disk_path or os.path.expanduser("~")
        self._last = _cpu_times()

    def cpu_usage(self) -> float:
        now = _cpu_times()
        if now is None or self._last is None:
            try:
                return round(min(100.0, os.getloadavg()[0] / (os.cpu_count() or 1) * 100), 2)
            except (OSError, AttributeError):
                return 0.0
        busy, total = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        return round(100.0 * busy / total, 2) if total > 0 else 0.0

    def sample(self) -> Dict[str, Any]:
        r: Dict[str, Any] = {"cpu_cores": os.cpu_count() or 1, "cpu_usage": self.cpu_usage()}
        mem = _read("/proc/meminfo")
        if mem:
            kb = {}
            for line in mem.splitlines():
                k, _, v = line.partition(":")
                parts = v.split()
                if parts and parts[0].isdigit():
                    kb[k] = int(parts[0]) * 1024
            total = kb.get("MemTotal", 0)
            avail = kb.get("MemAvailable", kb.get("MemFree", 0))
            r["memory_total_gb"] = round(total / GiB, 2)
            r["memory_used_gb"] = round((total - avail) / GiB, 2)
        try:
            du = shutil.disk_usage(self.disk_path)
            r["storage_total_gb"] = round(du.total / GiB, 2)
            r["storage_used_gb"] = round(du.used / GiB, 2)
        except OSError:
            pass
        bat = _battery()
        if bat:
            r["battery"] = bat
        return r
