"""Benchmark of the data layer on a running rack (issue 22): Redis GET p50/p99 in-cluster vs loopback,
PostgreSQL transactions/s through the Pooler (PgBouncer) vs straight to the primary.

  scripts/bench-data-layer [-i inventories/lab] [-n 20000] [--kubeconfig ~/.kube/lab-admin.conf]

Three measurements with the same tool (redis-benchmark 7.0.15, one connection, GET of one key):
  in-cluster: a pod of the platform-tools image on a control plane -> the primary's pod IP (pod network,
              node to node over the rack bridge);
  pod loopback: inside the primary's pod -> 127.0.0.1 (same server, no network);
  host loopback: a redis-server started here on 127.0.0.1 (this machine's Debian redis, same version).
S3: boto3 in the same client pod writes --s3-objects objects of --s3-mib MiB each to s3://backups/bench/ through
the S3 Service (SigV4; the object store keeps 2 copies, replication 001), reads them back and deletes them; then dd
writes and reads the same amount on a volume server's own data volume (the same local-data disk, 1 copy, fsync'd;
the read with O_DIRECT, so not from the page cache; where the file system refuses O_DIRECT, dd's error is printed
instead of a read figure).
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


# Runs in the client pod (python3 + boto3 of the platform-tools image); prints "PUT <s> GET <s>".
S3_SCRIPT = r"""
import os, sys, time, boto3
from botocore.config import Config
n, mib = int(sys.argv[1]), int(sys.argv[2])
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
body = os.urandom(mib * 2**20)
t0 = time.monotonic()
for i in range(n):
    s3.put_object(Bucket="backups", Key=f"bench/{i}", Body=body)
t1 = time.monotonic()
for i in range(n):
    got = s3.get_object(Bucket="backups", Key=f"bench/{i}")["Body"].read()
    assert len(got) == len(body), (i, len(got))
t2 = time.monotonic()
for i in range(n):
    s3.delete_object(Bucket="backups", Key=f"bench/{i}")
print(f"PUT {t1 - t0:.3f} GET {t2 - t1:.3f}")
"""
# Runs in a volume server's pod on its data volume: dd's own summary lines (bytes, seconds, rate).
DD_SCRIPT = ('f=/data/bench-dd.tmp; dd if=/dev/urandom of=$f.src bs=1M count="$0" 2>/dev/null; '
             'dd if=$f.src of=$f bs=1M conv=fsync 2>&1 | tail -1; '
             'dd if=$f of=/dev/null bs=1M iflag=direct 2>&1 | tail -1 || echo cached; '
             'rm -f $f $f.src')


def dd_seconds(line: str) -> float | None:
    parts = line.split(",")
    for part in parts:
        if part.strip().endswith(" s"):
            return float(part.strip().split()[0])
    return None


def bench_s3(args, kc) -> None:
    total = args.s3_objects * args.s3_mib
    out = kubectl(args, kc, "-n", NS, "exec", "bench-client", "--", "python3", "-c", S3_SCRIPT, str(args.s3_objects),
                  str(args.s3_mib), check=False)
    words = out.split()
    if words[:1] != ["PUT"]:
        print(f"  S3: no result: {out.strip()[-300:]}")
        return
    put, get = float(words[1]), float(words[3])
    pods = kubectl(args, kc, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/component=volume", "-o",
                   "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{'\\n'}{end}").split()
    print(f"  S3 ({args.s3_objects} x {args.s3_mib} MiB through the Service, 2 copies): PUT {total / put:6.1f} MiB/s, "
          f"GET {total / get:6.1f} MiB/s")
    if len(pods) < 2:
        print("  disk: no volume server pod found")
        return
    dd = kubectl(args, kc, "-n", NS, "exec", pods[0], "--", "sh", "-c", DD_SCRIPT, str(total), check=False)
    lines = [line for line in dd.splitlines() if line.strip()]
    write = dd_seconds(lines[0]) if lines else None
    read = dd_seconds(lines[1]) if len(lines) > 1 else None
    if write is None:
        print(f"  disk: no result: {dd.strip()[-300:]}")
        return
    read_text = f"read {total / read:6.1f} MiB/s (O_DIRECT)" if read else f"read: {lines[1:] or 'no result'}"
    print(f"  disk ({pods[0]} on {pods[1]}, /data, dd 1 copy, fsync): write {total / write:6.1f} MiB/s, {read_text}")
    get_ratio = f", GET {(total / get) / (total / read):.2f}" if read else ""
    print(f"  S3/disk: PUT {(total / put) / (total / write):.2f}{get_ratio}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    p.add_argument("--kubeconfig", default=os.path.expanduser("~/.kube/lab-admin.conf"))
    p.add_argument("--kubectl", default=None, help="default: the bundle's (scripts/bundle path)")
    p.add_argument("-n", type=int, default=20000, help="GETs per measurement")
    p.add_argument("--seconds", type=int, default=15, help="length of each pgbench run")
    p.add_argument("--s3-objects", type=int, default=32, help="objects written and read through S3")
    p.add_argument("--s3-mib", type=int, default=4, help="size of each S3 object in MiB")
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
        bench_s3(args, kc)
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
