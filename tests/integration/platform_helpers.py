"""A small platform on the service stack for verify.yml tests and the benchmark.

``Platform`` sets up, against the running stack (tests/integration/conftest.py
``stack`` fixture): two scikit-learn model versions in the MLflow registry
with the ``champion`` alias on version 1; a real KServe model server
(servers/kserve_model_server.py) serving version 1; the Feast fixture
repository applied and materialized with one fresh entity (driver 1001) and
one whose newest value is 3 hours old (driver 2002). ``inventory()`` writes
an inventory (mode 0600, it holds the stack's secrets) whose verify_* vars
point at all of it; ``run_verify()`` runs the real verify.yml.

Nothing here is mocked: every check talks to the real servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from feast_helpers import FEAST_REPO, create_offline_table, drop_all, feast_env, insert_driver_stats

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
KSERVE_SERVER = HERE / "servers" / "kserve_model_server.py"
FRESH_DRIVER = 1001
STALE_DRIVER = 2002
PROBE_INPUT = [[0.0, 1.0], [1.0, 0.0]]
# Version 1 predicts from the first feature, version 2 from the second.
EXPECTED_V1 = [0, 1]
EXPECTED_V2 = [1, 0]


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlflow_env(stack) -> dict:
    env = dict(os.environ)
    for var in list(env):
        if var.startswith(("MLFLOW_", "AWS_")):
            del env[var]
    env["MLFLOW_TRACKING_URI"] = stack.mlflow_uri
    return env


def register_models(stack, name: str) -> list[str]:
    """Log two tiny models and register them as versions 1 and 2 of ``name``; champion -> 1."""
    script = r"""
import sys
import mlflow, mlflow.sklearn, numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
name = sys.argv[1]
X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
mlflow.set_experiment("baremetal-mlops-tests")
versions = []
for labels in ([0, 0, 1, 1], [0, 1, 0, 1]):
    model = LogisticRegression(C=100.0).fit(X, np.array(labels))
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    versions.append(mlflow.register_model(info.model_uri, name).version)
MlflowClient().set_registered_model_alias(name, "champion", versions[0])
print(" ".join(str(v) for v in versions))
"""
    res = subprocess.run([sys.executable, "-c", script, name], env=mlflow_env(stack), capture_output=True,
                         text=True, timeout=300, check=False)
    if res.returncode != 0:
        raise AssertionError(f"registering models failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout.split()[-2:]


def set_alias(stack, name: str, alias: str, version: str) -> None:
    script = "import sys; from mlflow import MlflowClient; MlflowClient().set_registered_model_alias(*sys.argv[1:])"
    subprocess.run([sys.executable, "-c", script, name, alias, version], env=mlflow_env(stack), check=True,
                   capture_output=True, timeout=120)


class KServeServer:
    """The real KServe ModelServer of servers/kserve_model_server.py, in its own process group."""

    def __init__(self, stack, name: str, version: str, log: Path, report_version: str | None = None):
        """Serves ``name``'s ``version``; ``report_version`` makes it claim another version (old weights that
        report the new one)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.log = log
        argv = [sys.executable, str(KSERVE_SERVER), "--port", str(self.port), "--name", name,
                "--model-uri", f"models:/{name}/{version}", "--version", report_version or version]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, env=mlflow_env(stack), stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"KServe model server exited {self.proc.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/v2/models/{self.name}/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.5)
        raise AssertionError(f"KServe model server not ready after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def feast_cli(stack, *args: str) -> None:
    env = dict(os.environ, **feast_env(stack))
    res = subprocess.run([str(VENV_BIN / "feast"), "-c", str(FEAST_REPO), *args], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    if res.returncode != 0:
        raise AssertionError(f"feast {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")


def setup_feast(stack) -> None:
    """Driver 1001 fresh (1 min old), driver 2002 stale (3 h old), both readable online."""
    drop_all(stack)
    create_offline_table(stack)
    now = datetime.now(timezone.utc)
    insert_driver_stats(stack, [FRESH_DRIVER], now - timedelta(minutes=1))
    insert_driver_stats(stack, [STALE_DRIVER], now - timedelta(hours=3))
    feast_cli(stack, "apply")
    feast_cli(stack, "materialize", (now - timedelta(hours=6)).isoformat(), now.isoformat())


def refresh_feast(stack, driver_ids) -> None:
    """New values for ``driver_ids`` now, materialized incrementally."""
    insert_driver_stats(stack, list(driver_ids), datetime.now(timezone.utc))
    feast_cli(stack, "materialize-incremental", (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat())


class Platform:
    def __init__(self, stack, workdir: Path):
        self.stack = stack
        self.workdir = workdir
        self.model = f"verify-model-{uuid.uuid4().hex[:8]}"
        self.versions = register_models(stack, self.model)
        self.kserve = KServeServer(stack, self.model, self.versions[0], workdir / "kserve.log")
        setup_feast(stack)
        self.kserve.wait_ready()

    def close(self) -> None:
        self.kserve.stop()

    def verify_vars(self) -> dict:
        v = self.stack.vars
        feast_vars = feast_env(self.stack)
        return {
            "verify_timeout_s": 5,
            "verify_postgresql": {"host": v["MLOPS_PG_HOST"], "port": int(v["MLOPS_PG_PORT"]),
                                  "user": v["MLOPS_PG_USER"], "password": v["MLOPS_PG_PASSWORD"],
                                  "database": v["MLOPS_PG_DB_TEST"], "ssl_mode": "disable", "min_free_pct": 20},
            "verify_redis": {"host": v["MLOPS_REDIS_HOST"], "port": int(v["MLOPS_REDIS_PORT"]),
                             "password": v["MLOPS_REDIS_PASSWORD"], "maxmemory_policy": "allkeys-lru"},
            "verify_s3": {"endpoint_url": v["MLOPS_S3_ENDPOINT_URL"], "access_key": v["MLOPS_S3_ACCESS_KEY"],
                          "secret_key": v["MLOPS_S3_SECRET_KEY"], "region": v["MLOPS_S3_REGION"],
                          "bucket": v["MLOPS_S3_BUCKET"]},
            "verify_mlflow": {"tracking_uri": self.stack.mlflow_uri, "model": self.model, "alias": "champion"},
            "verify_feast": {
                "repo_path": str(FEAST_REPO),
                "environment": {k: feast_vars[k] for k in ("MLOPS_PG_PASSWORD", "MLOPS_REDIS_PASSWORD")},
                # Not the passwords, nor their percent-encoded forms (the module makes those from `environment`).
                "variables": {k: val for k, val in feast_vars.items()
                              if not k.startswith(("MLOPS_PG_PASSWORD", "MLOPS_REDIS_PASSWORD"))},
                "probes": [{"feature_view": "driver_hourly_stats", "entity_rows": [{"driver_id": FRESH_DRIVER}],
                            "max_age_s": 3600}]},
            "verify_kserve": {"url": self.kserve.url, "model": self.model, "protocol": "v2",
                              "predict": {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64",
                                                      "data": PROBE_INPUT}]},
                              "expected": EXPECTED_V1, "compare_version": True},
        }

    def inventory(self, name: str = "inventory.yml", **overrides) -> Path:
        variables = self.verify_vars()
        for key, value in overrides.items():
            if isinstance(value, dict) and value and isinstance(variables.get(key), dict):
                # Merged into the defaults; a key given as None is removed.
                merged = dict(variables[key], **value)
                variables[key] = {k: v for k, v in merged.items() if v is not None}
            else:
                variables[key] = value
        inv = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                               "ansible_python_interpreter": sys.executable}},
                       "vars": variables}}
        path = self.workdir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(inv, out)
        return path


class VerifyRun:
    def __init__(self, proc, report, elapsed, report_dir):
        self.proc = proc
        self.report = report
        self.elapsed = elapsed
        self.report_dir = report_dir

    @property
    def failures(self) -> list[dict]:
        return (self.report or {}).get("failures", [])

    def failed(self, component: str) -> list[dict]:
        return [c for c in self.failures if c["component"] == component]

    def check(self, component: str, check_contains: str) -> dict:
        found = [c for c in self.report["checks"] if c["component"] == component and check_contains in c["check"]]
        assert found, f"no {component} check like {check_contains!r} in {json.dumps(self.report['checks'], indent=1)}"
        return found[0]

    def explain(self) -> str:
        return f"rc={self.proc.returncode}\n{self.proc.stdout[-6000:]}\n{self.proc.stderr[-3000:]}"


def run_verify(inventory: Path, report_dir: Path, tags: str | None = None, timeout: int = 400,
               verbosity: int = 0) -> VerifyRun:
    from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible

    args = ["verify.yml", "-i", str(inventory)]
    if tags:
        args += ["--tags", tags]
    if verbosity:
        args.append("-" + "v" * verbosity)
    # One directory per run, so that every report of a test stays for a look afterwards.
    report_dir.mkdir(parents=True, exist_ok=True)
    report_dir = report_dir / ("run-%02d" % (len(list(report_dir.iterdir())) + 1))
    start = time.monotonic()
    proc = run_ansible("ansible-playbook", *args, env={"MLOPS_VERIFY_REPORT_DIR": str(report_dir)}, timeout=timeout)
    elapsed = time.monotonic() - start
    path = report_dir / "verify-report.json"
    report = json.loads(path.read_text()) if path.exists() else None
    return VerifyRun(proc, report, elapsed, report_dir)


class RewritingProxy:
    """A misrouted ingress in front of a real model server, for identity tests.

    Forwards every request to ``target`` after ``path_map(path)``, and passes
    each JSON reply through ``body_map(path, body)`` (identity by default).
    Runs in a thread on 127.0.0.1; use it as a context manager.
    """

    def __init__(self, target: str, path_map=None, body_map=None):
        import http.server
        import threading

        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                path = proxy.path_map(self.path)
                req = urllib.request.Request(target + path, data=data, method=self.command,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status, raw = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, raw = exc.code, exc.read()
                with contextlib.suppress(ValueError):
                    raw = json.dumps(proxy.body_map(self.path, json.loads(raw))).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _forward

        self.path_map = path_map or (lambda path: path)
        self.body_map = body_map or (lambda path, body: body)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
