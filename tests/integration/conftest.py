"""Integration tests talk to real servers started by scripts/stack.

The session fixture ``stack`` starts the service stack (PostgreSQL, Redis,
SeaweedFS S3, MLflow on 127.0.0.1) unless it already runs, and stops at the
end only what it started. ``MLOPS_STACK_EXTERNAL=1`` makes it use a stack
started outside (``scripts/stack start``) and never stop it. The state dir and
ports follow the same variables as scripts/stack (``MLOPS_STACK_DIR``,
``MLOPS_STACK_*_PORT``).

The session fixture ``cluster`` is the one real kubeadm cluster of the
cluster lane (container nodes, see k8s_helpers.Cluster), shared by
test_kubeadm_cluster.py and test_platform_data.py. Tests marked
``cluster_end`` (they remove nodes or reset the cluster) run after every
other test of the session.

Every test in this directory is marked ``integration``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from bundle_helpers import built_bundle
from k8s_helpers import CONTROL_PLANES, GPU_WORKER, UPGRADE_FROM, WORKERS, Cluster
from platform_helpers import Platform
from stack_helpers import Stack, StackCLI, all_pids, become_subreaper, memory_summary, pid_is_running, reap

HERE = Path(__file__).resolve().parent

# Measurements shown in the terminal summary.
_REPORT: dict[str, str] = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
    # Tests that take nodes away or reset the shared cluster go last (stable order otherwise).
    items.sort(key=lambda item: item.get_closest_marker("cluster_end") is not None)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The kubeadm cluster of the cluster lane: 3 control planes + 2 workers, installed at versions.yml's
    upgrade_from release with its bundle; test_kubeadm_cluster.py upgrades it to the pinned release, and the
    tests after that one (and test_platform_data.py) run on the upgraded cluster."""
    new_bundle = built_bundle()
    c = Cluster(tmp_path_factory.mktemp("k8s"), built_bundle(UPGRADE_FROM), "pytest-k8s", "198.19.20.0/24",
                CONTROL_PLANES, WORKERS, gpu_workers=[GPU_WORKER], version=UPGRADE_FROM)
    c.new_bundle = new_bundle
    c.rack.up()
    try:
        c.play("playbooks/runtime.yml")
        t0 = time.monotonic()
        c.first_run = c.play("playbooks/kubernetes.yml", "-vvv")
        c.first_seconds = time.monotonic() - t0
        print(f"kubernetes.yml (v{UPGRADE_FROM}) on 5 booted nodes with the runtime: {c.first_seconds:.0f} s")
        yield c
    finally:
        c.rack.down()


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("service stack")
        for key, value in _REPORT.items():
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def stack():
    cli = StackCLI()
    if os.environ.get("MLOPS_STACK_EXTERNAL") == "1":
        services = cli.status()
        down = [name for name, svc in services.items() if svc["state"] != "running"]
        if down:
            pytest.fail(f"MLOPS_STACK_EXTERNAL=1 but {', '.join(down)} not running: "
                        "run scripts/stack start (same MLOPS_STACK_DIR)", pytrace=False)
        yield Stack(cli, cli.variables(), services)
        return

    before = cli.status()
    to_start = [name for name, svc in before.items() if svc["state"] != "running"]
    if to_start:
        become_subreaper()
        t0 = time.monotonic()
        res = cli.run("start", *to_start, check=False)
        if res.returncode != 0:
            cli.run("stop", *to_start, check=False)
            pytest.fail(f"scripts/stack start {' '.join(to_start)} failed:\n{res.stdout}{res.stderr}",
                        pytrace=False)
        _REPORT["start"] = f"{time.monotonic() - t0:.1f} s ({', '.join(to_start)})"
    else:
        _REPORT["start"] = "reused a running stack"
    services = cli.status()
    _REPORT["memory after start"] = memory_summary(services)
    try:
        yield Stack(cli, cli.variables(), services, started_here=to_start)
    finally:
        if to_start:
            services = cli.status()
            _REPORT["memory at end"] = memory_summary(services)
            pids = all_pids(services, to_start)
            t0 = time.monotonic()
            cli.run("stop", *to_start, check=False)
            reap(pids)
            _REPORT["stop"] = f"{time.monotonic() - t0:.1f} s"
            alive = [pid for pid in pids if pid_is_running(pid)]
            _REPORT["stopped pids"] = " ".join(map(str, pids))
            _REPORT["left running after stop"] = str(alive or "none")


@pytest.fixture(scope="session")
def platform(stack, tmp_path_factory):
    """The small platform of platform_helpers.Platform on the stack, shared by the verify test modules."""
    plat = Platform(stack, tmp_path_factory.mktemp("platform"))
    try:
        yield plat
    finally:
        plat.close()


@pytest.fixture
def report_dir(tmp_path):
    return tmp_path / "report"
