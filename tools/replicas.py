"""Processes for the classroom tools: Streamlit app servers on 127.0.0.1, HAProxy in front, and what they cost.

Used by ``tools/classroom.py`` (N replicas behind HAProxy) and
``tools/capacity.py`` (one server, measured). Nothing here imports the app.

- :class:`AppServer`: ``streamlit run streamlit_app.py`` on a free port, waited
  for on ``/_stcore/health``; its CPU-seconds and memory are read from
  ``/proc`` for the server process *and its descendants*, so the browser that
  drives it is never counted.
- :class:`Proxy`: Debian's ``haproxy`` with ``deploy/haproxy.cfg`` (the
  deployment's own file) whose ``bind`` and ``server`` lines are replaced by
  local ones, so what is tested is the deployed sticky-session rule and
  health check.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HAPROXY_TEMPLATE = REPO_ROOT / "deploy" / "haproxy.cfg"
REPLICA_COOKIE = "CONTAINER_EDU_REPLICA"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def haproxy_binary() -> str | None:
    """Debian installs it in /usr/sbin, which is not on every user's PATH."""
    if shutil.which("haproxy"):
        return shutil.which("haproxy")
    return "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None


# --------------------------------------------------------------------------------------------------
# /proc readings
# --------------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its living descendants, plus what its waited-for children used."""
    total = 0.0
    for member in descendants(pid):
        fields = _stat_fields(member)
        if fields:
            # utime, stime, and (for the root) cutime + cstime of children that already exited
            ticks = int(fields[11]) + int(fields[12])
            if member == pid:
                ticks += int(fields[13]) + int(fields[14])
            total += ticks / CLOCK_TICKS
    return total


def status_kb(pid: int, name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB (VmRSS; shared pages are counted once per process)."""
    return sum(status_kb(member, "VmRSS") or 0 for member in descendants(pid)) / 1024


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy, all cores (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLOCK_TICKS


# --------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float, what: str, log: Path) -> float:
    started = time.monotonic()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.read().strip() == b"ok":
                    return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what} did not answer {url}/_stcore/health within {timeout:.0f} s; see {log}")
        time.sleep(0.3)


def _stop(process: subprocess.Popen | None, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class AppServer:
    """One ``streamlit run streamlit_app.py`` on 127.0.0.1."""

    name: str
    log_path: Path
    shared: bool = True
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Launch (returns at once; :meth:`wait_ready` waits)."""
        self.port = self.port or free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        # Shared mode, as on a class's server (it listens on 127.0.0.1 here, which alone would not turn it on).
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CONTAINER_EDU_SHARED": "1" if self.shared else "0"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )

    def wait_ready(self, timeout: float) -> float:
        return _wait_healthy(self.url, self.process, timeout, f"app server {self.name}", self.log_path)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        return tree_rss_mb(self.pid)

    def kill(self) -> None:
        """Stop it the hard way, as a crashed machine would (no goodbye to its browsers)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        _stop(self.process)
        if getattr(self, "_log", None):
            self._log.close()


def render_haproxy_config(template: str, bind: str, servers: list[tuple[str, str]]) -> str:
    """``template`` with its frontend's ``bind`` address and its backend's ``server`` lines replaced.

    Every other line (the cookie rule, the health check, the timeouts) is kept, so that the configuration under
    test is the one deployed. ``servers``: ``(name, "host:port")``; each gets the options of the template's first
    ``server`` line, with its ``cookie`` value set to its own name.
    """
    lines = template.splitlines()
    server_lines = [i for i, line in enumerate(lines) if re.match(r"\s*server\s", line)]
    bind_lines = [i for i, line in enumerate(lines) if re.match(r"\s*bind\s", line)]
    if not server_lines or len(bind_lines) != 1:
        raise ValueError("the HAProxy template needs one `bind` line and at least one `server` line")
    first = lines[server_lines[0]]
    indent = first[: len(first) - len(first.lstrip())]
    options = " ".join(first.split()[3:])  # what follows `server NAME ADDRESS`
    rendered = []
    for name, address in servers:
        own_options = re.sub(r"cookie \S+", f"cookie {name}", options)
        rendered.append(f"{indent}server {name} {address} {own_options}".rstrip())
    bind_line = lines[bind_lines[0]]
    lines[bind_lines[0]] = f"{bind_line[: len(bind_line) - len(bind_line.lstrip())]}bind {bind}"
    keep = [line for i, line in enumerate(lines) if i not in server_lines[1:]]
    at = keep.index(first)
    return "\n".join(keep[:at] + rendered + keep[at + 1:]) + "\n"


@dataclass
class Proxy:
    """HAProxy on 127.0.0.1 in front of ``servers``, configured from ``deploy/haproxy.cfg``."""

    servers: list[AppServer]
    work_dir: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float) -> float:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        self.port = self.port or free_port()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "haproxy.cfg"
        config.write_text(render_haproxy_config(HAPROXY_TEMPLATE.read_text(), f"127.0.0.1:{self.port}",
                                                [(s.name, f"127.0.0.1:{s.port}") for s in self.servers]))
        checked = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy refused {config}: {checked.stdout}{checked.stderr}")
        self.log_path = self.work_dir / "haproxy.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return _wait_healthy(self.url, self.process, timeout, "haproxy", self.log_path)

    def stop(self) -> None:
        _stop(self.process)
        if getattr(self, "_log", None):
            self._log.close()
