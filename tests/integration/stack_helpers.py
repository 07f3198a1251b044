"""Helpers for the integration tests: drive scripts/stack, describe the stack.

Imported by conftest.py and the tests (a module name of its own, because
pytest may import several files named conftest).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO_ROOT / "scripts" / "stack"
# Stack.redis(): "use the stack's password" (None means no password at all).
_STACK_PASSWORD = object()
START_TIMEOUT = 300  # seconds; a start takes ~10-25 s on 2 busy cores


class StackCLI:
    """Runs scripts/stack with a given environment (state dir, ports)."""

    def __init__(self, env: dict[str, str] | None = None):
        self.env = dict(os.environ if env is None else env)

    def run(self, *args: str, check: bool = True, timeout: float = START_TIMEOUT):
        res = subprocess.run([str(STACK_SCRIPT), *args], cwd=REPO_ROOT, env=self.env,
                             capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"scripts/stack {' '.join(args)} exited {res.returncode}\n"
                                 f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def status(self) -> dict:
        """`status --json`: {service: {state, pid, pids, endpoint, ...}}."""
        res = self.run("status", "--json", check=False, timeout=60)
        if res.returncode not in (0, 1, 3):
            raise AssertionError(f"scripts/stack status failed ({res.returncode}): {res.stderr}")
        return json.loads(res.stdout)["services"]

    def variables(self) -> dict[str, str]:
        """`env --json`: endpoints and credentials of the running services."""
        return json.loads(self.run("env", "--json", timeout=60).stdout)


@dataclass
class Stack:
    """What tests need to reach the services."""

    cli: StackCLI
    vars: dict[str, str]
    services: dict
    started_here: list[str] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return Path(self.vars["MLOPS_STACK_DIR"])

    def pg(self, db: str = "test") -> dict:
        """psycopg2.connect() keyword arguments for the mlops role."""
        return {"host": self.vars["MLOPS_PG_HOST"], "port": int(self.vars["MLOPS_PG_PORT"]),
                "user": self.vars["MLOPS_PG_USER"], "password": self.vars["MLOPS_PG_PASSWORD"],
                "dbname": self.vars[f"MLOPS_PG_DB_{db.upper()}"], "connect_timeout": 10}

    def pg_superuser(self, db: str = "postgres") -> dict:
        """psycopg2.connect() keyword arguments for the stack's superuser (to break and repair databases)."""
        secrets = json.loads((self.state_dir / "secrets.json").read_text())
        return {"host": self.vars["MLOPS_PG_HOST"], "port": int(self.vars["MLOPS_PG_PORT"]), "user": "postgres",
                "password": secrets["pg_superuser_password"], "dbname": db, "connect_timeout": 10}

    def redis(self, password=_STACK_PASSWORD):
        """A redis-py client for the stack's Redis, with timeouts and without redis-py's default retries
        (they also retry authentication errors, with backoff). ``password`` overrides the stack's;
        None connects without one."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(host=self.vars["MLOPS_REDIS_HOST"], port=int(self.vars["MLOPS_REDIS_PORT"]),
                           password=self.vars["MLOPS_REDIS_PASSWORD"] if password is _STACK_PASSWORD else password,
                           socket_connect_timeout=5, socket_timeout=10, retry=Retry(NoBackoff(), 0))

    @property
    def mlflow_uri(self) -> str:
        return self.vars["MLOPS_MLFLOW_TRACKING_URI"]


def all_pids(services: dict, names=None) -> list[int]:
    """Every PID of the given services (main processes and their groups)."""
    return sorted({pid for name, svc in services.items() if names is None or name in names
                   for pid in svc.get("pids", [])})


def become_subreaper() -> None:
    """Adopt orphaned descendants so their exit can be reaped.

    The stack's servers outlive `scripts/stack start`; when they exit they
    must be reaped by someone. Where PID 1 reaps orphans late (some
    sandboxes), they linger as zombies meanwhile; as a subreaper, pytest
    adopts them and `reap()` collects them right after `scripts/stack stop`.
    """
    PR_SET_CHILD_SUBREAPER = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap(pids) -> None:
    """waitpid() exactly these PIDs (never -1: other tests own other children)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def pid_is_running(pid: int) -> bool:
    """True if pid is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def memory_summary(services: dict) -> str:
    rss = sum(s.get("rss_kib", 0) for s in services.values()) / 1024
    pss = sum(s.get("pss_kib", 0) for s in services.values()) / 1024
    per = ", ".join(f"{n} {s.get('rss_kib', 0) / 1024:.0f}" for n, s in services.items())
    return f"RSS {rss:.0f} MiB (PSS {pss:.0f} MiB; per service RSS MiB: {per})"


def listening_sockets(pids) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state held by pids."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A = LISTEN
                    continue
                addr_hex, port_hex = local.split(":")
                raw = bytes.fromhex(addr_hex)
                if v6:
                    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                    addr = str(ipaddress.IPv6Address(b"".join(words)))
                else:
                    addr = str(ipaddress.IPv4Address(raw[::-1]))
                found.add((addr, int(port_hex, 16)))
    return found
