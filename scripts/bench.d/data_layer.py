"""Benchmark of the data layer on a running rack (issue 22): Redis GET p50/p99 in-cluster vs loopback,
PostgreSQL transactions/s through the Pooler (PgBouncer) vs straight to the primary.

  scripts/bench-data-layer [-i inventories/lab] [-n 20000] [--kubeconfig ~/.kube/lab-admin.conf]

Three measurements with the same tool (redis-benchmark 7.0.15, one connection, GET of one key):
  in-cluster: a pod of the platform-tools image on a control plane -> the primary's pod IP (pod network,
              node to node over the rack bridge);
  pod loopback: inside the primary's pod -> 127.0.0.1 (same server, no network);
  host loopback: a redis-server started here on 127.0.0.1 (this machine's Debian redis, same version).
PostgreSQL: pgbench 17 (in a standby's pod, the mlflow role, `SELECT 1` per transaction, 20 clients, 2
threads, --seconds each) against the Pooler's Service and against the primary's (-rw) Service, first with
connections kept open, then with a new connection per transaction (-C: what a client without a pool does).
Its password goes to pgbench on stdin, never on a command line.
Then the wall time of a no-op `playbooks/platform.yml --tags redis`. The password never leaves the pods:
redis-benchmark reads it from the pod's environment.
"""
from __future__ import annotations

import argparse
import base64
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = yaml.safe_load((ROOT / "versions.yml").read_text())
NS = "mlops-data"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tools_pod import tools_pod  # noqa: E402

POD = tools_pod("bench-client", NS)


def kubectl(args, kc, *more, stdin=None, check=True):
    res = subprocess.run([args.kubectl, f"--kubeconfig={kc}", *more], input=stdin, capture_output=True, text=True,
                         timeout=600, check=False)
    if check and res.returncode != 0:
        sys.exit(f"bench-data-layer: kubectl {' '.join(more[:4])} failed: {res.stderr.strip()[-500:]}")
    return res.stdout


def percentiles(csv_text: str) -> str:
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    if not rows:
        return f"no result ({csv_text.strip()[:200]})"
    r = rows[0]
    return (f"p50 {float(r['p50_latency_ms']) * 1000:6.0f} us  p99 {float(r['p99_latency_ms']) * 1000:6.0f} us  "
            f"{float(r['rps']):8.0f} GET/s")


def bench_cmd(host: str, n: int, password_var: str) -> list:
    return ["bash", "-c", f'redis-benchmark -h {host} -a "${password_var}" -t get -n {n} -c 1 --csv --precision 3 '
                          "2>/dev/null"]


PG = "mlops-pg"
# bash reads the password (first line of stdin); pgbench reads its script from the rest of stdin.
PGBENCH = ('read -r PGPASSWORD && export PGPASSWORD && exec pgbench -n -h "$0" -U mlflow -d mlflow -c 20 -j 2 '
           '-T "$1" $2 -f /dev/stdin 2>&1')


def tps(out: str) -> float | None:
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    return None


def bench_postgresql(args, kc) -> None:
    res = subprocess.run([args.kubectl, f"--kubeconfig={kc}", "-n", NS, "get", "clusters.postgresql.cnpg.io", PG,
                          "-o", "jsonpath={.status.currentPrimary} {.status.instanceNames}"],
                         capture_output=True, text=True, timeout=60, check=False)
    if res.returncode != 0:
        print(f"  PostgreSQL: no Cluster {PG} in {NS} ({res.stderr.strip()[-200:]})")
        return
    primary, names = res.stdout.split(" ", 1)
    standby = next(n for n in yaml.safe_load(names) if n != primary)
    secret = kubectl(args, kc, "-n", NS, "get", "secret", f"{PG}-mlflow", "-o", "jsonpath={.data.password}")
    password = base64.b64decode(secret).decode()
    print(f"  PostgreSQL (pgbench in {standby}, primary {primary}, 20 clients, SELECT 1, {args.seconds} s each):")
    for label, flags in (("connections kept open", ""), ("a new connection per transaction (-C)", "-C")):
        figures = {}
        for target, host in (("Pooler", f"{PG}-pooler"), ("direct", f"{PG}-rw")):
            out = kubectl(args, kc, "-n", NS, "exec", "-i", standby, "-c", "postgres", "--", "bash", "-c", PGBENCH,
                          host, str(args.seconds), flags, stdin=password + "\nSELECT 1;\n", check=False)
            figures[target] = tps(out)
            if figures[target] is None:
                print(f"    {label}, {target}: no result: {out.strip()[-300:]}")
        if all(figures.values()):
            print(f"    {label}: Pooler {figures['Pooler']:8.0f} tx/s, direct {figures['direct']:8.0f} tx/s, "
                  f"Pooler/direct {figures['Pooler'] / figures['direct']:.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    p.add_argument("--kubeconfig", default=os.path.expanduser("~/.kube/lab-admin.conf"))
    p.add_argument("--kubectl", default=None, help="default: the bundle's (scripts/bundle path)")
    p.add_argument("-n", type=int, default=20000, help="GETs per measurement")
    p.add_argument("--seconds", type=int, default=15, help="length of each pgbench run")
    args = p.parse_args()
    if not args.kubectl:
        bundle = subprocess.run([str(ROOT / "scripts" / "bundle"), "path"], capture_output=True, text=True,
                                check=True).stdout
        args.kubectl = str(Path(bundle.strip()) / "bin" / "kubectl")
    kc = args.kubeconfig
    out = kubectl(args, kc, "-n", NS, "exec", "redis-sentinel-0", "--", "redis-cli", "-p", "26379", "--raw",
                  "SENTINEL", "get-master-addr-by-name", "redis")
    primary_ip = out.split()[0]
    pods = kubectl(args, kc, "-n", NS, "get", "pods", "-o",
                   "jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{'\\n'}{end}")
    primary = next(line.split() for line in pods.splitlines() if line.split()[1:2] == [primary_ip])
    print(f"bench-data-layer: primary {primary[0]} ({primary_ip}) on {primary[2]}; {args.n} GETs each, 1 connection")
    kubectl(args, kc, "apply", "-f", "-", stdin=POD)
    try:
        kubectl(args, kc, "-n", NS, "wait", "--for=condition=Ready", "pod/bench-client", "--timeout=120s")
        node = kubectl(args, kc, "-n", NS, "get", "pod", "bench-client", "-o", "jsonpath={.spec.nodeName}")
        res = kubectl(args, kc, "-n", NS, "exec", "bench-client", "--", *bench_cmd(primary_ip, args.n, "REDIS_PASSWORD"))
        print(f"  in-cluster   ({node} -> {primary[2]}): {percentiles(res)}")
        res = kubectl(args, kc, "-n", NS, "exec", primary[0], "--", *bench_cmd("127.0.0.1", args.n, "REDISCLI_AUTH"))
        print(f"  pod loopback ({primary[2]}):           {percentiles(res)}")
    finally:
        kubectl(args, kc, "-n", NS, "delete", "pod", "bench-client", "--wait=false", check=False)
    bench_postgresql(args, kc)
    server, bench = shutil.which("redis-server"), shutil.which("redis-benchmark")
    if server and bench:
        with tempfile.TemporaryDirectory() as d, socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", d,
                                     "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
            try:
                time.sleep(0.5)
                res = subprocess.run([bench, "-p", str(port), "-t", "get", "-n", str(args.n), "-c", "1", "--csv",
                                      "--precision", "3"], capture_output=True, text=True, timeout=300, check=False)
                print(f"  host loopback (this machine, redis-server {VERSIONS['platform']['images']['redis']['version']}"
                      f"): {percentiles(res.stdout)}")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    else:
        print("  host loopback: redis-server/redis-benchmark not installed here (scripts/bootstrap installs them)")
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
               ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=str(ROOT / "molecule" / "shared" / "strategy"))
    platform = subprocess.run([str(ROOT / "scripts" / "bundle"), "path", "--platform"], capture_output=True,
                              text=True, check=True).stdout.strip()
    t0 = time.monotonic()
    res = subprocess.run(["ansible-playbook", "-i", args.inventory, "playbooks/platform.yml", "--tags", "redis",
                          "-e", f"mlops_platform_bundle_dir={platform}"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False)
    recap = [line for line in res.stdout.splitlines() if "changed=" in line]
    print(f"  platform.yml --tags redis again (a no-op unless the deployed values differ): "
          f"{time.monotonic() - t0:.1f} s, rc {res.returncode}, "
          f"{'; '.join(' '.join(r.split()[:1] + r.split()[3:4]) for r in recap)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
