"""Platform-layer benchmark (issue 4): figures side by side, in one run.

1. verify.yml wall time on the healthy stack (layers data_services, mlflow,
   feast, kserve), with Ansible's linear strategy and with mitogen.
2. Feast online read (FeatureStore.get_online_features, 1 entity x 3
   features) p50/p99 against a raw Redis HGETALL of the same entity key.
3. KServe V1 predict over HTTP (keep-alive) p50/p99 against an in-process
   predict of the same scikit-learn model.

Goals: verify under 60 s; each served path within 3x of its raw backend.
Where a goal is missed the output says what stands in the way. It uses the
real service stack (started here if not running, and stopped again) and the
small platform of tests/integration/platform_helpers.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "collections")]
sys.dont_write_bytecode = False

from stack_helpers import Stack, StackCLI  # noqa: E402
import platform_helpers as ph  # noqa: E402
from feast_helpers import FEAST_REPO, feast_env  # noqa: E402

GOAL_VERIFY_S = 60.0
GOAL_RATIO = 3.0


def pct(samples, q):
    data = sorted(samples)
    return data[min(len(data) - 1, int(round(q / 100.0 * (len(data) - 1))))]


def timed(fn, n, warmup=20):
    for _warm in range(warmup):
        fn()
    out = []
    for _call in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def line(name, samples):
    return f"  {name:<44} p50 {pct(samples, 50):9.0f} us   p99 {pct(samples, 99):9.0f} us   (n={len(samples)})"


def bench_verify(plat, workdir, strategy):
    env_before = dict(os.environ)
    if strategy == "mitogen":
        os.environ["ANSIBLE_STRATEGY"] = "mitogen_linear"
        os.environ["ANSIBLE_STRATEGY_PLUGINS"] = str(ROOT / "molecule" / "shared" / "strategy")
    try:
        run = ph.run_verify(plat.inventory(), workdir / f"report-{strategy}", "data_services,mlflow,feast,kserve")
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    ok = run.report and run.report["ok"]
    return run.elapsed, ok, run.report["counts"] if run.report else None, run


def bench_feast(stack, n):
    os.environ.update(feast_env(stack))
    from feast import FeatureStore
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    store = FeatureStore(repo_path=str(FEAST_REPO))
    feats = [f"driver_hourly_stats:{f}" for f in ("conv_rate", "acc_rate", "avg_daily_trips")]
    rows = [{"driver_id": ph.FRESH_DRIVER}]
    got = store.get_online_features(features=feats, entity_rows=rows).to_dict()
    assert got["conv_rate"][0] is not None, got
    feast_s = timed(lambda: store.get_online_features(features=feats, entity_rows=rows), n)

    key = _redis_key(store.config.project, EntityKey(join_keys=["driver_id"],
                                                     entity_values=[Value(int64_val=ph.FRESH_DRIVER)]),
                     store.config.entity_key_serialization_version)
    client = stack.redis()
    raw = client.hgetall(key)
    assert raw, "the raw Redis key of driver %s is empty" % ph.FRESH_DRIVER
    redis_s = timed(lambda: client.hgetall(key), n)
    return feast_s, redis_s, len(raw)


def bench_kserve(plat, stack, n):
    import mlflow.sklearn
    import numpy as np

    os.environ["MLFLOW_TRACKING_URI"] = stack.mlflow_uri
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    model = mlflow.sklearn.load_model(f"models:/{plat.model}/{plat.versions[0]}")
    data = np.asarray(ph.PROBE_INPUT)
    inproc = timed(lambda: model.predict(data), n)

    conn = http.client.HTTPConnection("127.0.0.1", plat.kserve.port, timeout=10)
    body = json.dumps({"instances": ph.PROBE_INPUT})
    headers = {"Content-Type": "application/json"}

    def call():
        conn.request("POST", f"/v1/models/{plat.model}:predict", body, headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"predict answered {resp.status}: {payload[:200]!r}")
        return payload

    first = json.loads(call())
    assert first["predictions"] == ph.EXPECTED_V1, first
    served = timed(call, n)
    conn.close()
    return served, inproc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="calls per latency measurement (default 1000)")
    parser.add_argument("--strategy", choices=["linear", "mitogen", "both"], default="both",
                        help="Ansible strategy for the verify run(s)")
    args = parser.parse_args()

    cli = StackCLI()
    before = cli.status()
    to_start = [name for name, svc in before.items() if svc["state"] != "running"]
    if to_start:
        t0 = time.monotonic()
        cli.run("start", *to_start)
        print(f"stack: started {', '.join(to_start)} in {time.monotonic() - t0:.1f} s")
    stack = Stack(cli, cli.variables(), cli.status(), started_here=to_start)
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    plat = None
    try:
        t0 = time.monotonic()
        plat = ph.Platform(stack, work)
        print(f"platform: models registered, KServe serving, Feast materialized in {time.monotonic() - t0:.1f} s")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        print()
        print(f"verify.yml on the healthy stack (layers data_services,mlflow,feast,kserve; goal < {GOAL_VERIFY_S:.0f} s):")
        verify_times = {}
        for strategy in (["linear", "mitogen"] if args.strategy == "both" else [args.strategy]):
            elapsed, ok, counts, run = bench_verify(plat, work, strategy)
            verify_times[strategy] = elapsed
            print(f"  {strategy:<8} {elapsed:6.1f} s   {'PASSED' if ok else 'FAILED'} {counts}")
            if not ok:
                print(run.explain())

        print()
        print("Feast online read vs raw Redis, same entity:")
        feast_s, redis_s, nfields = bench_feast(stack, args.n)
        print(line("Feast get_online_features (1 entity x 3)", feast_s))
        print(line(f"Redis HGETALL of the same key ({nfields} fields)", redis_s))
        feast_ratio = pct(feast_s, 50) / pct(redis_s, 50)
        feast_ratio99 = pct(feast_s, 99) / pct(redis_s, 99)

        print()
        print("KServe V1 predict over HTTP vs in-process predict, same model and input:")
        served, inproc = bench_kserve(plat, stack, args.n)
        print(line("KServe V1 :predict (HTTP keep-alive)", served))
        print(line("model.predict in process", inproc))
        ks_ratio = pct(served, 50) / pct(inproc, 50)
        ks_ratio99 = pct(served, 99) / pct(inproc, 99)

        print()
        print("ratios (served / raw backend; goal <= 3x):")
        print(f"  Feast / Redis      p50 {feast_ratio:6.1f}x   p99 {feast_ratio99:6.1f}x")
        print(f"  KServe / in-proc   p50 {ks_ratio:6.1f}x   p99 {ks_ratio99:6.1f}x")
        print()
        print("goals:")
        best = min(verify_times.values())
        print(f"  verify < {GOAL_VERIFY_S:.0f} s: {'met' if best < GOAL_VERIFY_S else 'NOT met'} "
              f"(best {best:.1f} s)")
        if best >= GOAL_VERIFY_S:
            print("    in the way: every module of every check starts a Python interpreter and imports its SDK "
                  "(mlflow, feast) again - seconds each on this 2-core machine; mitogen keeps one interpreter.")
        for name, ratio, why in (
                ("Feast within 3x of Redis", feast_ratio,
                 "get_online_features is pure-Python work around one HMGET: registry lookup, protobuf "
                 "(de)serialisation of entity keys and values, building the response; the Redis round trip is a "
                 "small part. A feature server (feast serve) adds HTTP on top; reading Redis directly would "
                 "bypass Feast's TTL and schema handling."),
                ("KServe within 3x of in-process", ks_ratio,
                 "an in-process predict of this tiny model takes %.2f ms; the served path adds an HTTP request, "
                 "JSON encoding both ways and FastAPI/KServe request handling (%.2f ms more here) that no model "
                 "server avoids. The goal only becomes reachable for models whose own predict takes several "
                 "milliseconds." % (pct(inproc, 50) / 1000, (pct(served, 50) - pct(inproc, 50)) / 1000))):
            print(f"  {name}: {'met' if ratio <= GOAL_RATIO else 'NOT met'} ({ratio:.1f}x at p50)")
            if ratio > GOAL_RATIO:
                print(f"    in the way: {why}")
    finally:
        if plat:
            plat.close()
        if to_start:
            cli.run("stop", *to_start, check=False)
            print(f"stack: stopped {', '.join(to_start)}")


if __name__ == "__main__":
    main()
