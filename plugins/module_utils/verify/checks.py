# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Judge what verify.yml observed: every function returns check records.

A record is a dict ``{layer, component, check, key, status, ok, seen,
expected, fix}`` (plus ``host`` for node checks). ``status`` is one of three
outcomes:

* ``passed``;
* ``failed``;
* ``not_run``: the check could not run. When the operator chose that
  (``chosen: true``, for example ``compare_version: false``) it counts as
  ``ok``; otherwise (a dependency failed, an input is missing) it counts as a
  failure, in the summary and in the exit status.

``key`` names the check independently of the model, view or host in its
text. :data:`CATALOG` lists the keys every selected layer must report;
``report.build`` adds a failing "not run" record for any that no task
recorded, so that no code path can drop a check from the report.

The modules observe; these pure functions compare the observations with the
expectations from the inventory, so that each rule lives in one place and is
unit-tested. The filter plugin ``baremetal.mlops.verify`` exposes them to the
``verify`` role.
"""

from __future__ import annotations

import datetime
import re

LAYERS = ("hardware", "kubernetes", "data_services", "mlflow", "feast", "kserve")
PASSED = "passed"
FAILED = "failed"
NOT_RUN = "not_run"
STATUSES = (PASSED, FAILED, NOT_RUN)

# Every check a layer reports whatever happens, by key: (key, component, check, expected).
# Checks of one node, one feature view or one Kubernetes node come in numbers the
# inventory decides; their layers guard them otherwise (one record per host, or a
# failing "no probe ran").
CATALOG = {
    "kubernetes": (
        ("kubernetes.api", "api", "API answers", "the Kubernetes API answers"),
        ("kubernetes.apiserver_ready", "apiserver", "every apiserver ready", "/readyz ok on every control plane"),
        ("kubernetes.etcd_member", "etcd", "every etcd member healthy", "every etcd member healthy"),
        ("kubernetes.system_pods", "kube-system", "kube-system pods ready", "every kube-system pod ready"),
    ),
    "data_services": (
        ("postgresql.headroom", "postgresql", "connection headroom", "enough free connections"),
        ("redis.maxmemory", "redis", "maxmemory set", "maxmemory > 0"),
        ("redis.policy", "redis", "eviction policy", "the expected maxmemory-policy"),
        ("redis.evictions", "redis", "not evicting", "no keys evicted while at maxmemory"),
        ("s3.roundtrip", "s3", "write and read back", "an object written reads back identical"),
    ),
    "mlflow": (
        ("mlflow.tracking", "mlflow", "tracking: run, param and metric written and read back",
         "tracking: run, param and metric written and read back"),
        ("mlflow.artifacts", "mlflow artifact store", "artifact written and read back through MLflow",
         "artifact written and read back through MLflow"),
        ("mlflow.champion", "mlflow registry", "champion alias resolves", "the alias on a READY version"),
        ("mlflow.champion_model", "mlflow artifact store", "champion model loadable",
         "its run active, an MLmodel and every file its flavors name at the version's download URI"),
    ),
    "feast": (
        ("feast.freshness", "feast online store", "online features fresh", "every probed view fresh"),
        ("feast.schema", "feast offline store", "feature views match their sources",
         "every probed view's source columns present, with types that convert without truncation"),
    ),
    "kserve": (
        ("kserve.identity", "kserve", "model identity", "the endpoint answers as the configured model"),
        ("kserve.ready", "kserve", "model ready", "model ready"),
        ("kserve.prediction", "kserve", "prediction", "the expected prediction"),
        ("kserve.champion", "kserve", "serves the champion", "served version == registry champion"),
        ("kserve.champion_predictions", "kserve", "answers as the champion",
         "the server's predictions on the probe == the registry champion's, and the probe tells the champion "
         "from the version before it"),
    ),
}


def record(layer, component, check, ok, seen, expected, fix, host=None, key=None):
    """A passed or failed check."""
    rec = {"layer": layer, "component": component, "check": check, "key": key or "%s.%s" % (component, check),
           "status": PASSED if ok else FAILED, "ok": bool(ok), "seen": str(seen), "expected": str(expected),
           "fix": "" if ok else str(fix)}
    if host:
        rec["host"] = host
    return rec


def not_run(layer, component, check, reason, expected, fix, key=None, chosen=False, host=None):
    """A check that did not run, and why. ``chosen``: the operator chose it (then it counts as ok)."""
    rec = {"layer": layer, "component": component, "check": check, "key": key or "%s.%s" % (component, check),
           "status": NOT_RUN, "chosen": bool(chosen), "ok": bool(chosen), "seen": "not run: %s" % reason,
           "expected": str(expected), "fix": "" if chosen else str(fix)}
    if host:
        rec["host"] = host
    return rec


def blocked(layer, component, check, key, expected, because):
    """A "not run" record for a check that cannot run because ``because`` (a check record) did not pass."""
    return not_run(layer, component, check, "%s did not pass (see there)" % because["check"],
                   expected, "fix '%s' first, then rerun" % because["check"], key=key)


def without_fix(message):
    """A module's message without the " Fix: <hint>" our modules append: the report has a field for the fix."""
    return str(message).split(" Fix: ", maxsplit=1)[0].strip()


# Errors whose cause is a check of their own component, not the address or credentials the generic fix names:
# (component, words in the error, the check's key, its name, what it expects, the fix).
CAUSES = (
    ("postgresql", re.compile(r"too many clients already|remaining connection slots are reserved|"
                              r"no more connections allowed|sorry, too many clients", re.I),
     "postgresql.headroom", "connection headroom", "enough free connections",
     "PostgreSQL has no connection slot left (max_connections reached), so even verify could not connect: it is "
     "the database's headroom, not the address or credentials. Find who holds the connections (pg_stat_activity "
     "as a superuser), put the clients behind PgBouncer (roles/postgresql's Pooler) or raise max_connections"),
)


def from_error(result, layer, component, check, expected, fix, key=None):
    """A failed record from a task's failed result (``ansible_failed_result``). An error that :data:`CAUSES` knows
    is recorded on the check of its cause, with that cause's fix."""
    result = result or {}
    msg = result.get("msg") or "the task failed without a message"
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    hint = result.get("hint")
    if hint:
        # Our modules append "Fix: <hint>" to the message; the report has a field for it.
        msg = without_fix(msg)
        fix = hint
    for cause_component, words, cause_key, cause_check, cause_expected, cause_fix in CAUSES:
        if component == cause_component and words.search(msg):
            return [record(layer, component, cause_check, False, msg, cause_expected, cause_fix, key=cause_key)]
    return [record(layer, component, check, False, msg, expected, fix, key=key)]


ARG_SPEC_TASK = re.compile(r"^Validating arguments against arg spec '?([A-Za-z_]+)")
LAYER_VARIABLES = {"kubernetes": "verify_kubernetes", "data_services": "verify_postgresql, verify_redis, verify_s3",
                   "mlflow": "verify_mlflow", "feast": "verify_feast", "kserve": "verify_kserve"}


def layer_stopped(result, layer, task_name=None):
    """The record of a layer whose tasks stopped outside its checks. A failure of the role's argument validation
    (the first task of the layer) is that layer's settings being invalid, named so; the variables' values are not
    repeated (argument_specs messages may quote them)."""
    result = result or {}
    task_name = str(task_name or "")
    if ARG_SPEC_TASK.match(task_name) or result.get("argument_errors"):
        errors = result.get("argument_errors") or [result.get("msg") or "invalid settings"]
        return [record(layer, "%s settings" % layer, "settings valid", False,
                       "%s: %s" % (layer, "; ".join(str(e) for e in errors)),
                       "%s valid for roles/verify/meta/argument_specs.yml (entry point %s)" % (
                           LAYER_VARIABLES.get(layer, "the layer's variables"), layer),
                       "correct the %s settings named above in the inventory; the other layers ran" % layer,
                       key="%s.settings" % layer)]
    return from_error(result, layer, task_name or layer, "%s layer ran to the end" % layer,
                      "every check of the layer ran", "a task of the %s layer failed outside its checks: see the "
                      "message; the other layers ran" % layer, key="%s.layer" % layer)


def not_configured(layer, component, variable):
    return [record(layer, component, "configured", False, "%s is not set" % variable,
                   "the endpoint of %s in the inventory" % component,
                   "set %s in the inventory (group_vars/all/verify.yml), or leave the %s layer out "
                   "with --skip-tags %s" % (variable, layer, layer), key="%s.configured" % component)]


def not_configured_all(layer, configured):
    """``not_configured`` for each component whose value in ``configured`` ({component: variable or ""}) is set.

    ``configured`` maps a component to the name of its variable when that
    variable is empty, or to "" when it is set: the values themselves (which
    carry secrets) never pass through here.
    """
    out = []
    for component, variable in configured.items():
        if variable:
            out.extend(not_configured(layer, component, variable))
    return out


def selected_layers(run_tags, skip_tags=()):
    """The verify layers a run with these ``--tags``/``--skip-tags`` selects, in report order."""
    run_tags = set(run_tags or ["all"])
    chosen = set(LAYERS) if "all" in run_tags else run_tags & set(LAYERS)
    chosen -= set(skip_tags or ())
    return [layer for layer in LAYERS if layer in chosen]


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
        "find the client that leaks connections (pg_stat_activity by application_name), or raise max_connections",
        key="postgresql.headroom")]


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
            "in redis.conf) below the pod's memory limit", key="redis.maxmemory"))
    out.append(record(
        "data_services", "redis", "eviction policy", seen_policy == policy,
        "%s: maxmemory-policy %s" % (endpoint, seen_policy), "maxmemory-policy %s" % policy,
        "with %s a full Redis answers writes with OOM errors and online features stop updating: set "
        "maxmemory-policy %s" % (seen_policy, policy), key="redis.policy"))
    evicted = int(info.get("evicted_keys", 0) or 0)
    used = int(info.get("used_memory", 0) or 0)
    at_limit = maxmemory > 0 and used >= EVICTING_AT * maxmemory
    out.append(record(
        "data_services", "redis", "not evicting", not (evicted and at_limit),
        "%s: %d keys evicted since it started, used_memory %s of maxmemory %s" % (
            endpoint, evicted, info.get("used_memory_human", used),
            info.get("maxmemory_human", maxmemory) if maxmemory else "0 (unlimited)"),
        "no keys evicted while at maxmemory",
        "Redis holds more than maxmemory allows and evicts keys: online features go missing (Feast reads them as "
        "not found) while materialization runs. Raise maxmemory and the pod's memory limit (roles/redis: "
        "redis_maxmemory, redis_memory_limit) above what the online store holds, then materialize again",
        key="redis.evictions"))
    return out


# Redis counts as evicting when it has evicted keys and its used memory is at this share of maxmemory or above.
EVICTING_AT = 0.9


def redis_evicting(checks):
    """The failed ``redis.evictions`` record among ``checks`` (the run's records so far), or None."""
    return next((c for c in checks or () if c.get("key") == "redis.evictions" and not c.get("ok")), None)


def s3(result, endpoint, bucket):
    steps = result.get("steps") or []
    done = ", ".join("%s %sms" % (s["name"], s.get("elapsed_ms")) for s in steps if s.get("ok"))
    return [record("data_services", "s3", "write and read back", True,
                   "%s: s3://%s object written, read back identical and deleted (%s)" % (endpoint, bucket, done),
                   "an object written reads back identical", "", key="s3.roundtrip")]


# -- MLflow


def mlflow_probe(result, tracking_uri):
    """Tracking (run, params, metrics) and the artifact store, judged apart.

    A group whose steps were skipped (the probe did not get to them) is "not
    run" naming the step that stopped it, never "ok".
    """
    steps = result.get("steps") or []
    groups = (("mlflow.tracking", "mlflow", "tracking: run, param and metric written and read back",
               ("tracking", "params", "metrics"),
               "the tracking server or its backend database fails: check the MLflow pods' log and PostgreSQL"),
              ("mlflow.artifacts", "mlflow artifact store", "artifact written and read back through MLflow",
               ("artifact_write", "artifact_read"),
               "MLflow answers but its artifact store does not: check the S3 service behind MLflow "
               "(--artifacts-destination), its endpoint and the credentials MLflow uses"))
    out = []
    for key, component, check, names, fix in groups:
        mine = [s for s in steps if s.get("name") in names]
        bad = [s for s in mine if not s.get("ok") and not s.get("skipped")]
        skipped = [s for s in mine if s.get("skipped")]
        if bad:
            # The step's error is the module's message; the report's fix is this layer's, one fix.
            error = without_fix(bad[0].get("error"))
            out.append(record("mlflow", component, check, False, "%s: %s failed: %s" % (
                tracking_uri, bad[0].get("name"), error), check, fix, key=key))
        elif not mine or skipped:
            # Why: the skip reasons that point outside this group (artifact_read waits on artifact_write,
            # which is itself skipped because tracking failed: the cause is tracking).
            why = sorted({str(s.get("error") or "skipped").replace("not run: ", "") for s in skipped})
            outside = [w for w in why if not any(name in w for name in names)]
            out.append(not_run("mlflow", component, check, "%s: %s: %s" % (
                tracking_uri, ", ".join(s["name"] for s in skipped) or ", ".join(names),
                "; ".join(outside or why) or "the probe did not get to these steps"),
                check, "fix the step that stopped the probe (above), then rerun", key=key))
        else:
            out.append(record("mlflow", component, check, True, "%s: %s ok" % (
                tracking_uri, ", ".join(s["name"] for s in mine)), check, fix, key=key))
    return out


def champion_of(info, model, alias):
    """``{version, problem}``: the version record behind ``model@alias`` in mlflow_model_info's result, or why not."""
    info = info or {}
    if not info.get("exists"):
        return {"version": None, "problem": "registered model %s does not exist" % model,
                "fix": "register the model and set the %s alias (baremetal.mlops.mlflow_model_alias)" % alias}
    version = (info.get("alias_versions") or {}).get(alias)
    if not version:
        aliases = ", ".join(sorted((info.get("registered_model") or {}).get("aliases") or {})) or "none"
        return {"version": None, "problem": "model %s has no alias %s (aliases: %s)" % (model, alias, aliases),
                "fix": "set the alias with baremetal.mlops.mlflow_model_alias"}
    return {"version": version, "problem": None, "fix": ""}


def mlflow_champion(info, model, alias):
    champion = champion_of(info, model, alias)
    check = "%s alias resolves" % alias
    if champion["version"] is None:
        return [record("mlflow", "mlflow registry", check, False, champion["problem"],
                       "model %s with alias %s on a READY version" % (model, alias), champion["fix"],
                       key="mlflow.champion")]
    version = champion["version"]
    status = version.get("status", "READY")
    out = [record("mlflow", "mlflow registry", check, status == "READY",
                  "%s@%s -> version %s (%s, source %s)" % (model, alias, version.get("version"), status,
                                                           version.get("source")),
                  "alias %s on a READY version" % alias,
                  "the version behind %s is %s: wait for registration or point the alias at a READY version"
                  % (alias, status), key="mlflow.champion")]
    integrity = ((info or {}).get("alias_versions") or {}).get(alias, {}).get("integrity")
    if integrity is not None:
        problems = integrity.get("problems") or []
        out.append(record(
            "mlflow", "mlflow artifact store", "%s model loadable" % alias, bool(integrity.get("ok")),
            "%s@%s (version %s): %s" % (model, alias, version.get("version"), "; ".join(problems) if problems else
                                        "run %s, MLmodel with %s and the files it names at %s" % (
                                            integrity.get("run_lifecycle_stage"),
                                            ", ".join(integrity.get("flavors") or []), integrity.get("download_uri"))),
            "its run active, an MLmodel and every file its flavors name at the version's download URI",
            "a model server restarted now could not load %s: restore the version's files (or its run), or register "
            "a version from a run whose model is in the artifact store and point %s at it" % (alias, alias),
            key="mlflow.champion_model"))
    return out


def mlflow_champion_not_asked(_ignored=None):
    """verify_mlflow.model is not set: the registry check is left out by the operator's choice."""
    return [not_run("mlflow", "mlflow registry", "champion alias resolves",
                    "verify_mlflow.model is not set (no registered model to check)", "the alias on a READY version",
                    "", key="mlflow.champion", chosen=True),
            not_run("mlflow", "mlflow artifact store", "champion model loadable",
                    "verify_mlflow.model is not set (no registered model to check)",
                    "an MLmodel and the files it names", "", key="mlflow.champion_model", chosen=True)]


# -- Feast


def feast(result, repo, checks=None):
    """The freshness probes judged; ``checks`` (the run's records so far) name Redis as the cause of missing values
    when the data layer found it evicting."""
    out = []
    evicting = redis_evicting(checks)
    views = dict((v.get("name"), v) for v in (result or {}).get("feature_views") or [])
    schema = dict((e.get("feature_view"), e) for e in (result or {}).get("schema") or [])
    for probe in (result or {}).get("freshness") or []:
        view = probe.get("feature_view")
        missing = probe.get("missing") or []
        if missing:
            out.append(record(
                "feast", "feast online store", "%s values present" % view, False,
                "%s: no online value for %s" % (view, ", ".join(str(m) for m in missing))
                + ("; Redis is evicting (%s)" % evicting["seen"] if evicting else ""),
                "a value for every probed entity and feature",
                ("the online store's Redis evicts keys (data_services/redis 'not evicting'): " + evicting["fix"])
                if evicting else
                "materialize the feature view (feast materialize-incremental) and check the entity keys of the probe",
                key="feast.freshness"))
            continue
        future = probe.get("future") or []
        if future:
            out.append(record(
                "feast", "feast online store", "%s event times not in the future" % view, False,
                "%s: %s" % (view, "; ".join("entity %s has an event at %s, %s ahead of now" % (
                    f.get("entity_row"), f.get("event_timestamp"), _duration(f.get("ahead_s"))) for f in future)),
                "no event more than %s ahead of now" % _duration(probe.get("max_future_skew_s")),
                "the producer of %s writes event timestamps in the future (its clock or time zone): a future "
                "value counts as fresh forever and hides a stopped pipeline. Write event_timestamp in UTC at the "
                "source, then materialize the feature view again" % view, key="feast.freshness"))
            continue
        age = probe.get("age_s")
        max_age = probe.get("max_age_s")
        fresh = bool(probe.get("fresh"))
        seen = "%s: stalest entity %s, its event %s, %s old (newest event %s)" % (
            view, probe.get("stalest_entity_row"), probe.get("oldest_event_timestamp"),
            _duration(age) if age is not None else "of unknown age", probe.get("newest_event_timestamp"))
        fix = _stale_fix(view, views.get(view), max_age, schema.get(view))
        if not fresh and view in views:
            seen += "; last materialization ended %s" % (views[view].get("last_materialization_end") or "never")
        out.append(record(
            "feast", "feast online store", "%s fresh" % view, fresh,
            seen + ("" if fresh else " - stale"),
            "every probed entity's event at most %s old" % _duration(max_age), fix, key="feast.freshness"))
    for entry in (result or {}).get("schema") or []:
        out.append(_feast_schema(entry))
    if not out:
        out.append(record("feast", "feast online store", "freshness probes", False,
                          "%s: no freshness probe ran" % repo, "at least one probe in verify_feast.probes",
                          "add probes (feature view, entity rows, max_age_s) to verify_feast", key="feast.freshness"))
    return out


def _stale_fix(view, described, max_age, schema=None):
    """Why a view is stale, from its last successful materialization (Feast records only successful ones) and
    its schema check."""
    if schema and schema.get("problems"):
        return ("the source of %s no longer matches the feature view (see '%s schema matches its source'): "
                "materialization fails on it. Fix the source or the feature view, apply, then materialize"
                % (view, view))
    end = (described or {}).get("last_materialization_end")
    if not end:
        return ("%s was never materialized: run feast materialize-incremental (baremetal.mlops.feast_materialize) "
                "and check that the materialize job (CronJob or pipeline) exists" % view)
    try:
        ended = datetime.datetime.fromisoformat(str(end))
        if ended.tzinfo is None:
            ended = ended.replace(tzinfo=datetime.timezone.utc)
        since = (datetime.datetime.now(datetime.timezone.utc) - ended).total_seconds()
    except ValueError:
        since = None
    if since is not None and max_age is not None and since <= max_age:
        return ("materialization of %s succeeded %s ago but the values it found are old: the source's producer "
                "stopped writing (or writes old event times). Check the job that fills the source table"
                % (view, _duration(since)))
    return ("materialization of %s has not succeeded since %s: the materialize job (CronJob or pipeline) is "
            "failing or not running. Check its log, then run feast materialize-incremental "
            "(baremetal.mlops.feast_materialize) for %s" % (view, end, view))


def _feast_schema(entry):
    view = entry.get("feature_view")
    check = "%s schema matches its source" % view
    expected = "every feature's source column present, with a type that converts without truncation"
    if not entry.get("checked"):
        return not_run("feast", "feast offline store", check, "%s: %s" % (view, entry.get("error")), expected,
                       "", key="feast.schema", chosen=True)
    problems = entry.get("problems") or []
    return record("feast", "feast offline store", check, not problems,
                  "; ".join(p.get("problem") or "" for p in problems) if problems else
                  "%s: %d source column(s) match its features" % (view, len(entry.get("columns") or [])),
                  expected, "make the source's columns match the feature view again (a renamed column: "
                  "field_mapping), or change the feature view's schema and apply it; then materialize",
                  key="feast.schema")


# -- KServe


def kserve(result, model, url, champion=None, compare_version=True):
    """Identity first, then readiness, the probe prediction and the served version.

    ``champion`` is :func:`champion_of`'s ``{version, problem, fix}`` (None:
    unknown). Each later check that cannot run because an earlier one did not
    pass is reported "not run", naming it.
    """
    identity = result.get("identity")
    if not isinstance(identity, dict):
        identity = {"problems": ["the endpoint's result carries no identity (kserve_endpoint_info did not check "
                                 "which model answered)"]}
    problems = list(identity.get("problems") or [])
    names = identity.get("names") or {}
    if not names and result.get("ready"):
        problems.append("the model answers as ready but no reply named it (%s)"
                        % (identity.get("unavailable") or "no metadata"))
    named = ", ".join("%s says %s" % (where, name) for where, name in sorted(names.items()))
    check, expected = "%s identity" % model, "the endpoint answers as model %s (its replies name it)" % model
    fix = identity.get("hint") or ("check verify_kserve.url, host_header and model: the endpoint must be the "
                                   "predictor of that InferenceService")
    if not names and not problems:
        # Not ready, so no metadata: identity is unproven, and readiness says why.
        ident = not_run("kserve", "kserve", check, "%s: no reply named the model yet (%s)" % (
            url, identity.get("unavailable") or "it is not ready"), expected, fix, key="kserve.identity")
    else:
        ident = record("kserve", "kserve", check, not problems,
                       "%s: %s" % (url, "; ".join(problems)) if problems else
                       "%s: answers as model %s (%s)" % (url, model, named), expected, fix, key="kserve.identity")
    out = [ident]
    later = [("kserve.ready", "%s ready" % model, "model ready"),
             ("kserve.prediction", "%s prediction" % model, "the expected prediction"),
             ("kserve.champion", "%s serves the champion" % model, "served version == registry champion"),
             ("kserve.champion_predictions", "%s answers as the champion" % model,
              "the server's predictions on the probe == the champion's")]
    if problems:
        return out + [blocked("kserve", "kserve", c, key, exp, ident) for key, c, exp in later]
    ready = record("kserve", "kserve", "%s ready" % model, result.get("ready"),
                   "%s: model %s live=%s ready=%s" % (url, model, result.get("live"), result.get("ready")),
                   "model ready", "check the InferenceService's Ready condition and the predictor pods' log",
                   key="kserve.ready")
    out.append(ready)
    if not ready["ok"]:
        return out + [blocked("kserve", "kserve", check, key, expected, ready) for key, check, expected in later[1:]]
    out.append(_kserve_prediction(result, model, url))
    out.append(_kserve_champion(result, model, url, champion, compare_version))
    out.append(_kserve_champion_predictions(result, model, url, champion, compare_version))
    return out


def _kserve_prediction(result, model, url):
    check = "%s prediction" % model
    if result.get("matches") is None:
        what = "verify_kserve.expected" if result.get("prediction") is not None else "verify_kserve.predict and expected"
        return not_run("kserve", "kserve", check, "%s not set (no probe prediction asked for)" % what,
                       "the expected prediction", "", key="kserve.prediction", chosen=True)
    return record("kserve", "kserve", check, result.get("matches"),
                  "%s: prediction %s%s" % (url, _short(result.get("prediction")),
                                           "" if result.get("matches") else " (%s)" % result.get("mismatch")),
                  "the expected prediction",
                  "the served model answers differently than expected: check which model version is "
                  "deployed (storageUri) and the probe's expected output", key="kserve.prediction")


def _kserve_champion(result, model, url, champion, compare_version):
    check = "%s serves the champion" % model
    expected = "served version == registry champion"
    if not compare_version:
        return not_run("kserve", "kserve", check, "verify_kserve.compare_version is false", expected, "",
                       key="kserve.champion", chosen=True)
    if not champion or champion.get("version") is None:
        problem = (champion or {}).get("problem") or "the registry champion is unknown"
        return not_run("kserve", "kserve", check, "the registry champion is unknown: %s" % problem, expected,
                       (champion or {}).get("fix") or "set verify_mlflow (tracking_uri, model, alias) so that the "
                       "champion can be read, or set verify_kserve.compare_version: false", key="kserve.champion")
    want = str(champion["version"].get("version"))
    served = result.get("served_version")
    if served is None and result.get("prediction") is None:
        return record("kserve", "kserve", check, False,
                      "%s: no probe request was sent (verify_kserve.predict is not set) and the model's metadata "
                      "lists no version, so the served version is unknown" % url,
                      "served version %s (registry champion)" % want,
                      "set verify_kserve.predict: inference replies carry model_version, and the answers are "
                      "compared with the champion's", key="kserve.champion")
    if served is None:
        return record("kserve", "kserve", check, False,
                      "%s: the server does not report the model version it serves" % url,
                      "served version %s (registry champion)" % want,
                      "serve with a runtime that reports model_version (MLServer with model settings "
                      "version), or set verify_kserve.compare_version: false and check the "
                      "InferenceService's storageUri in the kubernetes layer", key="kserve.champion")
    return record("kserve", "kserve", check, served == want,
                  "%s serves version %s; registry champion is version %s" % (model, served, want),
                  "served version == registry champion (%s)" % want,
                  "roll the InferenceService out to the champion (models:/%s@champion), or move the "
                  "alias back if the promotion was a mistake" % model, key="kserve.champion")


def probe_rows(predict):
    """The rows of a KServe probe request (verify_kserve.predict), for loading the champion and predicting the same
    rows: V1 ``instances`` as they are, V2's first input's flat ``data`` cut into rows by its ``shape``. None when
    there is no probe or its shape cannot be read."""
    if not isinstance(predict, dict):
        return None
    if isinstance(predict.get("instances"), list) and predict["instances"]:
        return predict["instances"]
    inputs = predict.get("inputs")
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        return None
    data, shape = inputs[0].get("data"), inputs[0].get("shape") or []
    if not isinstance(data, list) or not data:
        return None
    if isinstance(data[0], list):
        return data
    if len(shape) == 2 and shape[0] * shape[1] == len(data):
        width = int(shape[1])
        return [data[i:i + width] for i in range(0, len(data), width)]
    if len(shape) == 1:
        return [[value] for value in data]
    return None


def _kserve_champion_predictions(result, model, url, champion, compare_version):
    """Identity by evidence: the server's answers to the probe against the champion's own, loaded by verify from
    the registry; and whether the probe can tell the champion from the version before it at all."""
    from ansible_collections.baremetal.mlops.plugins.module_utils.kserve.endpoint import compare, only_output

    check = "%s answers as the champion" % model
    expected = "the server's predictions on the probe == the registry champion's (loaded by verify)"
    key = "kserve.champion_predictions"
    if not compare_version:
        return not_run("kserve", "kserve", check, "verify_kserve.compare_version is false", expected, "", key=key,
                       chosen=True)
    if result.get("prediction") is None:
        return not_run("kserve", "kserve", check, "verify_kserve.predict not set (no probe request)", expected,
                       "give verify_kserve.predict: without a probe, only the version the server reports is "
                       "compared, and old weights that report the new version pass", key=key)
    version = (champion or {}).get("version")
    if not version:
        return not_run("kserve", "kserve", check, "the registry champion is unknown: %s" % (
            (champion or {}).get("problem") or "not resolved"), expected,
            (champion or {}).get("fix") or "set verify_mlflow (tracking_uri, model, alias)", key=key)
    probe = version.get("probe")
    number = version.get("version")
    if not probe:
        return not_run("kserve", "kserve", check, "the champion was not asked to predict the probe (its rows could "
                       "not be read from verify_kserve.predict)", expected,
                       "give verify_kserve.predict as V1 instances or a V2 input with a 2-D shape", key=key)
    if probe.get("error") or probe.get("predictions") is None:
        return record("kserve", "kserve", check, False,
                      "%s: the champion (version %s) could not predict the probe in verify: %s" % (
                          model, number, probe.get("error") or "no predictions"), expected,
                      "see 'champion model loadable' in the mlflow layer; the model's flavor library must be "
                      "installed where verify runs", key=key)
    served = only_output(result["prediction"])
    mine = probe["predictions"]
    diff = compare(served, mine)
    previous = probe.get("previous_version")
    if diff:
        as_previous = previous is not None and compare(served, probe.get("previous_predictions")) is None
        return record("kserve", "kserve", check, False,
                      "%s at %s answers %s; the champion (version %s) predicts %s (%s)%s" % (
                          model, url, _short(served), number, _short(mine), diff,
                          "; the server answers as version %s does" % previous if as_previous else ""),
                      expected, "the server serves other weights than the champion whatever version it reports: "
                      "roll the InferenceService out to models:/%s@champion (its storageUri) and restart its "
                      "predictor" % model, key=key)
    if previous is not None and compare(probe.get("previous_predictions"), mine) is None:
        return record("kserve", "kserve", check, False,
                      "the probe cannot tell the champion (version %s) from version %s: both predict %s" % (
                          number, previous, _short(mine)), expected,
                      "add probe rows to verify_kserve.predict on which version %s and version %s answer "
                      "differently; until then a server with the old weights passes" % (number, previous), key=key)
    return record("kserve", "kserve", check, True,
                  "%s answers %s, as the champion (version %s) does%s" % (
                      model, _short(served), number,
                      "; version %s answers %s" % (previous, _short(probe.get("previous_predictions")))
                      if previous is not None else "; there is no earlier version to tell it from"),
                  expected, "", key=key)


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
                       "every inventory node", "join the nodes (kubeadm join / k3s agent)",
                       key="kubernetes.nodes")]
    for node in nodes:
        name = node.get("metadata", {}).get("name")
        conditions = {c.get("type"): c for c in node.get("status", {}).get("conditions", [])}
        ready = conditions.get("Ready", {})
        is_ready = ready.get("status") == "True"
        out.append(record("kubernetes", "nodes", "%s Ready" % name, is_ready,
                          "%s Ready=%s (%s)" % (name, ready.get("status", "Unknown"), ready.get("reason", "")),
                          "Ready=True", "journalctl -u kubelet on %s; check the CNI pods on it" % name,
                          key="kubernetes.node_ready"))
        kubelet = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
        if expected_version:
            want = "v" + str(expected_version).lstrip("v")
            out.append(record("kubernetes", "nodes", "%s kubelet version" % name, kubelet == want,
                              "%s kubelet %s" % (name, kubelet), want,
                              "upgrade the node with playbooks/upgrade.yml (kubelet and kubeadm pinned in "
                              "versions.yml)", key="kubernetes.kubelet_version"))
        if name in gpu_nodes:
            alloc = node.get("status", {}).get("allocatable", {}).get(gpu_resource, "0")
            out.append(record("kubernetes", "nodes", "%s GPU allocatable" % name, _int(alloc) > 0,
                              "%s allocatable %s=%s" % (name, gpu_resource, alloc), "%s > 0" % gpu_resource,
                              "the NVIDIA device plugin does not advertise GPUs: check its pod on %s and the "
                              "container runtime's nvidia runtime" % name, key="kubernetes.gpu_allocatable"))
    return out


def k8s_api(nodes):
    """The API answered the node list."""
    return [record("kubernetes", "api", "API answers", True, "listed %d nodes" % len(nodes or []),
                   "the Kubernetes API answers", "", key="kubernetes.api")]


def k8s_health(result, etcd_members=0):
    """What ``k8s_cluster_health`` (run once, ``wait_timeout: 0``) read: every apiserver's ``/readyz``, every etcd
    member (``etcd_members`` > 0: kubeadm's stacked etcd) and every kube-system pod. Nodes are judged by
    :func:`k8s_nodes` from the Node objects."""
    result = result or {}
    out = []
    servers = result.get("api_servers") or []
    if not servers:
        out.append(not_run("kubernetes", "apiserver", "every apiserver ready",
                           "no control-plane address given (verify_kubernetes_api_servers is empty): only the "
                           "kubeconfig's server was read", "/readyz ok on every control plane", "",
                           key="kubernetes.apiserver_ready", chosen=True))
    for server in servers:
        url = server.get("url")
        out.append(record("kubernetes", "apiserver", "%s /readyz" % url, server.get("ready"),
                          "%s /readyz: %s" % (url, _short(server.get("detail"), 300)), "ok",
                          "on the control plane at %s: crictl ps -a --name kube-apiserver and its log; /readyz "
                          "names the failing check (an etcd one: see that control plane's etcd member)" % url,
                          key="kubernetes.apiserver_ready"))
    if int(etcd_members or 0) <= 0:
        out.append(not_run("kubernetes", "etcd", "every etcd member healthy",
                           "no stacked etcd to read (verify_kubernetes_etcd_members is 0: k3s or an external "
                           "datastore)", "every etcd member healthy", "", key="kubernetes.etcd_member",
                           chosen=True))
    else:
        etcd = result.get("etcd") or {}
        members = etcd.get("members") or []
        if not members:
            seen = "; ".join(p for p in result.get("problems") or [] if p.startswith("etcd")) or "no member read"
            out.append(record("kubernetes", "etcd", "every etcd member healthy", False, seen,
                              "%d healthy members" % int(etcd_members),
                              "no etcd pod could be read: on each control plane, crictl ps -a --name etcd and "
                              "journalctl -u kubelet; with quorum lost, playbooks/restore_etcd.yml",
                              key="kubernetes.etcd_member"))
        for member in members:
            name = member.get("name")
            ok = bool(member.get("healthy")) and not member.get("learner")
            seen = "etcd member %s (%s): %s" % (
                name, ", ".join(member.get("client_urls") or []) or "no client URL",
                "healthy" if ok else ("a learner, not promoted" if member.get("healthy")
                                      else "unhealthy: %s" % _short(member.get("error") or "no error given", 200)))
            out.append(record("kubernetes", "etcd", "etcd member %s healthy" % name, ok, seen, "healthy",
                              "on %s: crictl ps -a --name etcd and its log, journalctl -u kubelet; a member that "
                              "cannot come back: playbooks/remove_node.yml, then playbooks/add_node.yml" % name,
                              key="kubernetes.etcd_member"))
        if members:
            out.append(record("kubernetes", "etcd", "etcd members", len(members) == int(etcd_members),
                              "%d members (%s)" % (len(members), ", ".join(str(m.get("name")) for m in members)),
                              "%d members, one per control plane" % int(etcd_members),
                              "a member left over from a removed node: playbooks/remove_node.yml; a control plane "
                              "without one: playbooks/add_node.yml", key="kubernetes.etcd_member"))
    pods = result.get("pods_not_ready") or []
    for pod in pods:
        name = "%s/%s" % (pod.get("namespace"), pod.get("name"))
        out.append(record("kubernetes", "kube-system", "pod %s ready" % name, False,
                          "%s on %s: %s, %s" % (name, pod.get("node") or "no node", pod.get("phase"),
                                                _short(pod.get("reason"), 200)),
                          "Running and ready", "kubectl -n %s describe pod %s and its log; on %s, journalctl -u "
                          "kubelet" % (pod.get("namespace"), pod.get("name"), pod.get("node") or "its node"),
                          key="kubernetes.system_pods"))
    if not pods and "pods_not_ready" in result:
        out.append(record("kubernetes", "kube-system", "kube-system pods ready", True, "every pod ready",
                          "every kube-system pod ready", "", key="kubernetes.system_pods"))
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
