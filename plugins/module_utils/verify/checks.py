# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Judge what verify.yml observed: every function returns check records.

A record is a dict ``{layer, component, check, ok, seen, expected, fix}``
(plus ``host`` for node checks). The modules observe; these pure functions
compare the observations with the expectations from the inventory, so that
each rule lives in one place and is unit-tested. The filter plugin
``baremetal.mlops.verify`` exposes them to the ``verify`` role.
"""

from __future__ import annotations

import re


def record(layer, component, check, ok, seen, expected, fix, host=None):
    rec = {"layer": layer, "component": component, "check": check, "ok": bool(ok), "seen": str(seen),
           "expected": str(expected), "fix": "" if ok else str(fix)}
    if host:
        rec["host"] = host
    return rec


def from_error(result, layer, component, check, expected, fix):
    """A failed record from a task's failed result (``ansible_failed_result``)."""
    result = result or {}
    msg = result.get("msg") or "the task failed without a message"
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    hint = result.get("hint")
    if hint:
        # Our modules append "Fix: <hint>" to the message; the report has a field for it.
        msg = msg.split(" Fix: ")[0]
        fix = hint
    return [record(layer, component, check, False, msg, expected, fix)]


def not_configured(layer, component, variable):
    return [record(layer, component, "configured", False, "%s is not set" % variable,
                   "the endpoint of %s in the inventory" % component,
                   "set %s in the inventory (group_vars/all/verify.yml), or leave the %s layer out "
                   "with --skip-tags %s" % (variable, layer, layer))]


# -- data services


def postgresql(row, endpoint, min_free_pct):
    """Connection headroom of one PostgreSQL server from its settings and pg_stat_activity."""
    max_conn = int(row["max_connections"])
    reserved = int(row.get("reserved_connections", 0) or 0)
    used = int(row["used_connections"])
    usable = max(max_conn - reserved, 1)
    free_pct = round(100.0 * (usable - used) / usable, 1)
    ok = free_pct >= min_free_pct
    return [record(
        "data_services", "postgresql", "connection headroom", ok,
        "%s: %d of %d usable connections in use (max_connections %d, %d reserved), %.1f%% free"
        % (endpoint, used, usable, max_conn, reserved, free_pct),
        "at least %s%% of connections free" % min_free_pct,
        "clients are close to exhausting max_connections: pool them through PgBouncer (transaction mode), "
        "find the client that leaks connections (pg_stat_activity by application_name), or raise max_connections")]


def redis(info, endpoint, policy, require_maxmemory=True):
    """maxmemory is set and the eviction policy is the expected one."""
    maxmemory = int(info.get("maxmemory", 0) or 0)
    seen_policy = info.get("maxmemory_policy", "unknown")
    out = []
    if require_maxmemory:
        out.append(record(
            "data_services", "redis", "maxmemory set", maxmemory > 0,
            "%s: maxmemory %s" % (endpoint, info.get("maxmemory_human", maxmemory) if maxmemory else "0 (unlimited)"),
            "maxmemory > 0",
            "without maxmemory Redis grows until the kernel OOM-kills it: set maxmemory (CONFIG SET maxmemory and "
            "in redis.conf) below the pod's memory limit"))
    out.append(record(
        "data_services", "redis", "eviction policy", seen_policy == policy,
        "%s: maxmemory-policy %s" % (endpoint, seen_policy), "maxmemory-policy %s" % policy,
        "with %s a full Redis answers writes with OOM errors and online features stop updating: set "
        "maxmemory-policy %s" % (seen_policy, policy)))
    return out


def s3(result, endpoint, bucket):
    steps = result.get("steps") or []
    done = ", ".join("%s %sms" % (s["name"], s.get("elapsed_ms")) for s in steps if s.get("ok"))
    return [record("data_services", "s3", "write and read back", True,
                   "%s: s3://%s object written, read back identical and deleted (%s)" % (endpoint, bucket, done),
                   "an object written reads back identical", "")]


# -- MLflow


def mlflow_probe(result, tracking_uri):
    """Tracking (run, params, metrics) and the artifact store, judged apart."""
    steps = result.get("steps") or []
    groups = (("mlflow", "tracking: run, param and metric written and read back",
               ("tracking", "params", "metrics"),
               "the tracking server or its backend database fails: check the MLflow pods' log and PostgreSQL"),
              ("mlflow artifact store", "artifact written and read back through MLflow",
               ("artifact_write", "artifact_read"),
               "MLflow answers but its artifact store does not: check the S3 service behind MLflow "
               "(--artifacts-destination), its endpoint and the credentials MLflow uses"))
    out = []
    for component, check, names, fix in groups:
        mine = [s for s in steps if s.get("name") in names]
        bad = [s for s in mine if not s.get("ok") and not s.get("skipped")]
        if not mine:
            out.append(record("mlflow", component, check, False, "%s: the probe did not get to these steps"
                              % tracking_uri, check, fix))
            continue
        if bad:
            seen = "%s: %s failed: %s" % (tracking_uri, bad[0].get("name"), bad[0].get("error"))
        else:
            seen = "%s: %s ok" % (tracking_uri, ", ".join(s["name"] for s in mine))
        out.append(record("mlflow", component, check, not bad, seen, check, fix))
    return out


def mlflow_champion(info, model, alias):
    versions = (info or {}).get("alias_versions") or {}
    version = versions.get(alias)
    if not (info or {}).get("exists"):
        return [record("mlflow", "mlflow registry", "%s alias resolves" % alias, False,
                       "registered model %s does not exist" % model, "model %s with alias %s" % (model, alias),
                       "register the model and set the %s alias (baremetal.mlops.mlflow_model_alias)" % alias)]
    if not version:
        return [record("mlflow", "mlflow registry", "%s alias resolves" % alias, False,
                       "model %s has no alias %s (aliases: %s)" % (
                           model, alias, ", ".join(sorted((info.get("registered_model") or {}).get("aliases") or {}))
                           or "none"),
                       "alias %s on a READY version" % alias,
                       "set the alias with baremetal.mlops.mlflow_model_alias")]
    status = version.get("status", "READY")
    return [record("mlflow", "mlflow registry", "%s alias resolves" % alias, status == "READY",
                   "%s@%s -> version %s (%s, source %s)" % (model, alias, version.get("version"), status,
                                                            version.get("source")),
                   "alias %s on a READY version" % alias,
                   "the version behind %s is %s: wait for registration or point the alias at a READY version"
                   % (alias, status))]


# -- Feast


def feast(result, repo):
    out = []
    for probe in (result or {}).get("freshness") or []:
        view = probe.get("feature_view")
        missing = probe.get("missing") or []
        if missing:
            out.append(record(
                "feast", "feast online store", "%s values present" % view, False,
                "%s: no online value for %s" % (view, ", ".join(str(m) for m in missing)),
                "a value for every probed entity and feature",
                "materialize the feature view (feast materialize-incremental) and check the entity keys of the probe"))
            continue
        age = probe.get("age_s")
        max_age = probe.get("max_age_s")
        fresh = bool(probe.get("fresh"))
        seen = "%s: newest event %s, %s old" % (
            view, probe.get("newest_event_timestamp"), _duration(age) if age is not None else "of unknown age")
        out.append(record(
            "feast", "feast online store", "%s fresh" % view, fresh,
            seen + ("" if fresh else " - stale"),
            "newest event at most %s old" % _duration(max_age),
            "online features are stale while reads still succeed: materialization has stopped. Check the "
            "materialize job (CronJob or pipeline) and its log, then run feast materialize-incremental "
            "(baremetal.mlops.feast_materialize) for %s" % view))
    if not out:
        out.append(record("feast", "feast online store", "freshness probes", False,
                          "%s: no freshness probe ran" % repo, "at least one probe in verify_feast.probes",
                          "add probes (feature view, entity rows, max_age_s) to verify_feast"))
    return out


# -- KServe


def kserve(result, model, url, champion=None, compare_version=True):
    out = [record("kserve", "kserve", "%s ready" % model, result.get("ready"),
                  "%s: model %s live=%s ready=%s" % (url, model, result.get("live"), result.get("ready")),
                  "model ready", "check the InferenceService's Ready condition and the predictor pods' log")]
    if not result.get("ready"):
        return out
    if result.get("matches") is not None:
        out.append(record("kserve", "kserve", "%s prediction" % model, result.get("matches"),
                          "%s: prediction %s%s" % (url, _short(result.get("prediction")),
                                                   "" if result.get("matches") else " (%s)" % result.get("mismatch")),
                          "the expected prediction",
                          "the served model answers differently than expected: check which model version is "
                          "deployed (storageUri) and the probe's expected output"))
    if compare_version and champion is not None:
        served = result.get("served_version")
        want = str(champion.get("version"))
        if served is None:
            out.append(record("kserve", "kserve", "%s serves the champion" % model, False,
                              "%s: the server does not report the model version it serves" % url,
                              "served version %s (registry champion)" % want,
                              "serve with a runtime that reports model_version (MLServer with model settings "
                              "version), or set verify_kserve.compare_version: false and check the "
                              "InferenceService's storageUri in the kubernetes layer"))
        else:
            out.append(record("kserve", "kserve", "%s serves the champion" % model, served == want,
                              "%s serves version %s; registry champion is version %s" % (model, served, want),
                              "served version == registry champion (%s)" % want,
                              "roll the InferenceService out to the champion (models:/%s@champion), or move the "
                              "alias back if the promotion was a mistake" % model))
    return out


# -- nodes


MDSTAT_STATUS = re.compile(r"^(md\S+)\s*:\s*(\S+)\s+(.*)$")
MDSTAT_DEVS = re.compile(r"\[(\d+)/(\d+)\]\s+\[([U_]+)\]")


def parse_mdstat(text):
    """Arrays in /proc/mdstat: [{name, state, level, members, degraded, counts, resync}]."""
    arrays = []
    current = None
    for line in (text or "").splitlines():
        match = MDSTAT_STATUS.match(line)
        if match:
            parts = match.group(3).split()
            current = {"name": match.group(1), "state": match.group(2),
                       "level": parts[0] if parts and not parts[0].startswith(("(", "nvme", "sd")) else None,
                       "degraded": False, "counts": None, "resync": None}
            arrays.append(current)
            continue
        if current is None:
            continue
        devs = MDSTAT_DEVS.search(line)
        if devs:
            current["counts"] = "%s/%s" % (devs.group(1), devs.group(2))
            current["degraded"] = "_" in devs.group(3) or devs.group(1) != devs.group(2)
        if re.search(r"\b(resync|recovery|reshape|check)\s*=", line):
            current["resync"] = line.strip()
    return arrays


def md_arrays(mdstat_text, host):
    out = []
    for arr in parse_mdstat(mdstat_text):
        ok = arr["state"] == "active" and not arr["degraded"]
        seen = "%s %s %s [%s]%s" % (arr["name"], arr["state"], arr["level"] or "", arr["counts"] or "?",
                                    " " + arr["resync"] if arr["resync"] else "")
        out.append(record("hardware", "md", "%s clean" % arr["name"], ok, seen, "active with every member up",
                          "a member failed or is missing: mdadm --detail /dev/%s, replace the drive and "
                          "mdadm --add it" % arr["name"], host=host))
    return out


def mount(findmnt, path, writable, host):
    """A mount point that must be mounted (not the root filesystem) and writable."""
    fields = (findmnt or "").split()
    target = fields[0] if fields else None
    mounted = target == path
    seen = "%s: %s" % (path, "mounted from %s (%s, %s)" % (fields[1], fields[2], fields[3])
                       if mounted and len(fields) >= 4 else
                       "not a mount point (it is on %s)" % target if target else "does not exist")
    out = [record("hardware", "storage", "%s mounted" % path, mounted, seen, "%s is a mount point" % path,
                  "mount it (baremetal.mlops.nvme_storage) and check /etc/fstab; data written now lands on the "
                  "parent filesystem", host=host)]
    if mounted:
        out.append(record("hardware", "storage", "%s writable" % path, writable,
                          "%s %s" % (path, "writable" if writable else "not writable"),
                          "writable", "the filesystem is read-only (errors remount it ro): check dmesg and "
                          "the drive's SMART log (nvme smart-log)", host=host))
    return out


def gpus(facts, host, driver_version=None, min_gpus=1):
    gpus_ = (facts or {}).get("nvidia_gpus") or []
    driver = (facts or {}).get("nvidia_driver") or {}
    ok_gpus = [g for g in gpus_ if g.get("state") == "ok"]
    out = [record("hardware", "gpu", "GPUs healthy", len(ok_gpus) >= min_gpus and len(ok_gpus) == len(gpus_),
                  "%d GPU(s) on the bus, %d healthy%s" % (
                      len(gpus_), len(ok_gpus),
                      "; " + ", ".join("%s %s" % (g.get("bus_id"), g.get("state")) for g in gpus_
                                       if g.get("state") != "ok") if len(ok_gpus) != len(gpus_) else ""),
                  "at least %d GPU(s), all healthy" % min_gpus,
                  "a GPU is missing or failed: nvidia-smi -q, dmesg for Xid errors; reseat or replace it",
                  host=host)]
    loaded = driver.get("loaded")
    version = driver.get("version")
    want = "driver %s loaded" % driver_version if driver_version else "driver loaded"
    ok = bool(loaded) and (not driver_version or version == driver_version)
    out.append(record("hardware", "gpu", "NVIDIA driver", ok,
                      "driver %s (%s)" % (version or "not loaded", driver.get("state") or "ok"), want,
                      "run the nvidia_gpu role (it installs the pinned driver) and reboot if it asks",
                      host=host))
    return out


# -- Kubernetes (needs a cluster; unit-tested with API objects, not run here)


def k8s_nodes(nodes, expected_version, gpu_nodes=(), gpu_resource="nvidia.com/gpu"):
    out = []
    if not nodes:
        return [record("kubernetes", "nodes", "nodes registered", False, "the API lists no nodes",
                       "every inventory node", "join the nodes (kubeadm join / k3s agent)")]
    for node in nodes:
        name = node.get("metadata", {}).get("name")
        conditions = {c.get("type"): c for c in node.get("status", {}).get("conditions", [])}
        ready = conditions.get("Ready", {})
        is_ready = ready.get("status") == "True"
        out.append(record("kubernetes", "nodes", "%s Ready" % name, is_ready,
                          "%s Ready=%s (%s)" % (name, ready.get("status", "Unknown"), ready.get("reason", "")),
                          "Ready=True", "journalctl -u kubelet on %s; check the CNI pods on it" % name))
        kubelet = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
        if expected_version:
            want = "v" + str(expected_version).lstrip("v")
            out.append(record("kubernetes", "nodes", "%s kubelet version" % name, kubelet == want,
                              "%s kubelet %s" % (name, kubelet), want,
                              "upgrade the node with playbooks/upgrade.yml (kubelet and kubeadm pinned in "
                              "versions.yml)"))
        if name in gpu_nodes:
            alloc = node.get("status", {}).get("allocatable", {}).get(gpu_resource, "0")
            out.append(record("kubernetes", "nodes", "%s GPU allocatable" % name, _int(alloc) > 0,
                              "%s allocatable %s=%s" % (name, gpu_resource, alloc), "%s > 0" % gpu_resource,
                              "the NVIDIA device plugin does not advertise GPUs: check its pod on %s and the "
                              "container runtime's nvidia runtime" % name))
    return out


def _int(value):
    try:
        return int(str(value))
    except ValueError:
        return 0


def _duration(seconds):
    if seconds is None:
        return "unknown"
    seconds = float(seconds)
    if seconds < 120:
        return "%.0f s" % seconds
    if seconds < 7200:
        return "%.0f min" % (seconds / 60)
    if seconds < 172800:
        return "%.1f h" % (seconds / 3600)
    return "%.1f days" % (seconds / 86400)


def _short(value, limit=120):
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
