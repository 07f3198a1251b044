# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MLflow model registry: registered models, versions and aliases.

Pure helpers shape what the modules return (:func:`version_view`,
:func:`registered_model_view`), pick the version that already holds a source
(:func:`find_version`) and plan alias changes (:func:`plan_alias`). The
functions that take a ``conn`` (an :class:`~.client.MlflowConnection`) read
and write through it, so every error names the tracking URI.
"""

from __future__ import annotations

import tempfile
import time

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import (
    MlflowError,
    MlflowRefusedError,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.experiment import normalize_tags

READY = "READY"
PENDING = "PENDING_REGISTRATION"
FAILED = "FAILED_REGISTRATION"
MLMODEL = "MLmodel"
PAGE_SIZE = 1000
POLL_INTERVAL = 0.5


def version_number(version):
    """A model version number as an int (MLflow hands them out as strings)."""
    return int(version)


def runs_uri(run_id, artifact_path):
    """``runs:/<run_id>/<artifact_path>``."""
    return "runs:/%s/%s" % (run_id, artifact_path.strip("/"))


def join_uri(base, path):
    """``base`` and ``path`` joined by one slash."""
    return "%s/%s" % (base.rstrip("/"), path.strip("/"))


def versions_by_alias(aliases):
    """``{version: [alias, ...]}`` from a registered model's ``{alias: version}``."""
    out = {}
    for alias, version in (aliases or {}).items():
        out.setdefault(version_number(version), []).append(alias)
    return dict((version, sorted(names)) for version, names in out.items())


def version_view(mv, aliases=None):
    """What the modules return about an MLflow ``ModelVersion``.

    :param aliases: the registered model's ``{alias: version}``; search
        results do not carry aliases, so they come from the model.
    """
    number = version_number(mv.version)
    if aliases is None:
        names = sorted(getattr(mv, "aliases", None) or [])
    else:
        names = versions_by_alias(aliases).get(number, [])
    return dict(
        name=mv.name,
        version=number,
        source=mv.source,
        run_id=mv.run_id or None,
        status=mv.status,
        tags=dict(mv.tags or {}),
        aliases=names,
        description=mv.description or "",
        creation_timestamp=mv.creation_timestamp,
        last_updated_timestamp=mv.last_updated_timestamp,
    )


def registered_model_view(rm):
    """What the modules return about an MLflow ``RegisteredModel`` (None for None)."""
    if rm is None:
        return None
    return dict(
        name=rm.name,
        description=rm.description or "",
        tags=dict(rm.tags or {}),
        aliases=dict((alias, version_number(version)) for alias, version in (rm.aliases or {}).items()),
    )


def same_source(left, right):
    """Whether two model sources name the same place (a trailing slash aside)."""
    return (left or "").rstrip("/") == (right or "").rstrip("/")


def find_version(versions, sources, run_id=None):
    """The newest of ``versions`` (views) whose source is one of ``sources`` and, if given, whose run is ``run_id``."""
    matches = [v for v in versions
               if any(same_source(v["source"], s) for s in sources) and (run_id is None or v["run_id"] == run_id)]
    return max(matches, key=lambda v: v["version"]) if matches else None


def plan_version_update(current, tags=None, description=None):
    """Changes that make version ``current`` (a view) carry ``tags`` and ``description``.

    Tags not named are left alone. Returns ``dict(actions=[...], after=view)``;
    each action is ``set_tag`` (``key``, ``value``) or ``set_description``
    (``description``).
    """
    actions = []
    after = dict(current, tags=dict(current["tags"]))
    desired = normalize_tags(tags)
    for key in sorted(desired):
        if current["tags"].get(key) != desired[key]:
            actions.append(dict(action="set_tag", key=key, value=desired[key]))
            after["tags"][key] = desired[key]
    if description is not None and description != current["description"]:
        actions.append(dict(action="set_description", description=description))
        after["description"] = description
    return dict(actions=actions, after=after)


def plan_alias(aliases, alias, state, version=None):
    """What to do so that ``alias`` of a model with ``aliases`` ({alias: version}) is in ``state``.

    For ``absent`` with a ``version``, the alias is only removed while it
    points to that version. Returns ``dict(action, version, previous_version)``:
    ``action`` is ``set``, ``delete`` or None (nothing to do); ``version``
    is where the alias points afterwards (None when it does not exist);
    ``previous_version`` where it pointed before (None when it did not exist).
    """
    current = aliases.get(alias)
    previous = version_number(current) if current is not None else None
    if state == "present":
        wanted = version_number(version)
        return dict(action=None if previous == wanted else "set", version=wanted, previous_version=previous)
    if previous is None or (version is not None and previous != version_number(version)):
        return dict(action=None, version=previous, previous_version=previous)
    return dict(action="delete", version=None, previous_version=previous)


def _name_filter(name, tracking_uri=None):
    if "'" not in name:
        return "name = '%s'" % name
    if '"' not in name:
        return 'name = "%s"' % name
    raise MlflowRefusedError("model name %r has both kinds of quotes; it cannot be searched for." % name,
                             tracking_uri=tracking_uri, hint="use a model name without quotes")


def get_registered_model(conn, name):
    """The ``RegisteredModel`` named ``name``, or None."""
    return conn.get("look up registered model '%s'" % name, "get_registered_model", name)


def list_versions(conn, name, limit=None):
    """``ModelVersion`` objects of model ``name``, newest first, at most ``limit`` (all when None)."""
    found = []
    token = None
    while limit is None or len(found) < limit:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(found))
        page = conn.call("list versions of registered model '%s'" % name, "search_model_versions",
                         filter_string=_name_filter(name, conn.tracking_uri), max_results=size,
                         order_by=["version_number DESC"], page_token=token)
        found.extend(page)
        token = getattr(page, "token", None)
        if not token or not page:
            break
    found.sort(key=lambda mv: version_number(mv.version), reverse=True)
    return found if limit is None else found[:limit]


def resolve_run_source(conn, run_id, artifact_path):
    """Where the model that run ``run_id`` logged at ``artifact_path`` is, as MLflow registers it.

    Like ``mlflow.register_model("runs:/<run_id>/<artifact_path>")``: a logged
    model (MLflow 3) named ``artifact_path`` from that run gives
    ``models:/<model_id>``; otherwise an ``MLmodel`` file under
    ``<run artifact URI>/<artifact_path>`` gives that URI.

    :returns: ``dict(source, model_id, sources)``; ``sources`` are every
        source an earlier registration of the same model may carry.
    :raises MlflowRefusedError: no such run, or no model at that path.
    """
    run = conn.get("read run %s" % run_id, "get_run", run_id)
    if run is None:
        raise MlflowRefusedError("run %s does not exist; nothing was changed." % run_id,
                                 tracking_uri=conn.tracking_uri,
                                 hint="give the run_id of a run of this tracking server")
    path = artifact_path.strip("/")
    sources = [runs_uri(run_id, path), join_uri(run.info.artifact_uri, path)]
    logged = conn.call("search logged models of run %s" % run_id, "search_logged_models",
                       experiment_ids=[run.info.experiment_id], filter_string="name = '%s'" % path.replace("'", ""))
    logged = [m for m in logged if m.source_run_id == run_id]
    if logged:
        model = max(logged, key=lambda m: m.creation_timestamp or 0)
        source = "models:/%s" % model.model_id
        return dict(source=source, model_id=model.model_id, sources=[source] + sources)
    files = conn.call("list artifacts of run %s at '%s'" % (run_id, path), "list_artifacts", run_id, path,
                      component="mlflow artifact store")
    if any(f.path.rstrip("/").split("/")[-1] == MLMODEL for f in files):
        return dict(source=sources[1], model_id=None, sources=sources)
    raise MlflowRefusedError(
        "run %s has no model at artifact path '%s' (no logged model of that name, no %s file under %s); nothing "
        "was changed." % (run_id, path, MLMODEL, sources[1]),
        tracking_uri=conn.tracking_uri,
        hint="set artifact_path to the name the model was logged under (log_model(name=...)), or give source")


def create_version(conn, name, source, run_id=None, tags=None, description=None, model_id=None):
    """Register a new version of ``name`` (created if missing); returns its number."""
    if get_registered_model(conn, name) is None:
        conn.call("create registered model '%s'" % name, "create_registered_model", name)
    kwargs = dict(run_id=run_id, tags=normalize_tags(tags) or None, description=description, await_creation_for=0)
    if model_id:
        kwargs["model_id"] = model_id
    mv = conn.call("create a version of registered model '%s' from %s" % (name, source), "create_model_version",
                   name, source, **kwargs)
    return version_number(mv.version)


def update_version(conn, name, version, actions):
    """Apply :func:`plan_version_update` actions to version ``version`` of ``name``."""
    for step in actions:
        if step["action"] == "set_tag":
            conn.call("set tag '%s' of model '%s' version %d" % (step["key"], name, version),
                      "set_model_version_tag", name, str(version), step["key"], step["value"])
        elif step["action"] == "set_description":
            conn.call("set the description of model '%s' version %d" % (name, version), "update_model_version",
                      name, str(version), description=step["description"])


def await_ready(conn, name, version, seconds):
    """Wait up to ``seconds`` for version ``version`` to leave PENDING_REGISTRATION; returns the ``ModelVersion``.

    :raises MlflowError: the registration failed.
    """
    deadline = time.monotonic() + max(seconds, 0)
    while True:
        mv = conn.call("read model '%s' version %d" % (name, version), "get_model_version", name, str(version))
        if mv.status == FAILED:
            raise MlflowError("registering model '%s' version %d failed: %s" % (name, version, mv.status_message),
                              tracking_uri=conn.tracking_uri,
                              hint="check that the source is readable by the tracking server; the server's log "
                                   "names the cause")
        if mv.status != PENDING or time.monotonic() >= deadline:
            return mv
        time.sleep(POLL_INTERVAL)


def require_version(conn, name, version):
    """The ``ModelVersion`` ``version`` of ``name``.

    :raises MlflowRefusedError: the model or the version does not exist.
    """
    mv = conn.get("read model '%s' version %d" % (name, version), "get_model_version", name, str(version))
    if mv is not None:
        return mv
    existing = [version_number(v.version) for v in list_versions(conn, name, limit=20)]
    have = ("its newest versions are %s" % ", ".join(str(v) for v in existing)) if existing else "it has no versions"
    raise MlflowRefusedError(
        "registered model '%s' has no version %d (%s); nothing was changed." % (name, version, have),
        tracking_uri=conn.tracking_uri,
        hint="register that version first (baremetal.mlops.mlflow_model_version) or give an existing version")


# The keys of an MLmodel file's flavors that name a file or directory of the model (pyfunc's model_path and data,
# sklearn's pickled_model, the data of transformers, pytorch and the like).
FLAVOR_PATH_KEYS = ("model_path", "data", "pickled_model", "model_data", "path", "artifacts_path")


def _named_paths(mlmodel):
    """The top-level files or directories the flavors of a parsed MLmodel name, with the flavor and key."""
    named = []
    for flavor, conf in sorted(((mlmodel or {}).get("flavors") or {}).items()):
        for key in FLAVOR_PATH_KEYS:
            value = (conf or {}).get(key) if isinstance(conf, dict) else None
            if isinstance(value, str) and value.strip("/"):
                named.append(dict(flavor=flavor, key=key, path=value.strip("/").split("/")[0]))
    return named


def version_integrity(conn, name, view):
    """Whether model ``name``'s version (a :func:`version_view`) can be loaded the way a model server loads it:
    its run exists and is not deleted, its files are where the registry says (MLflow's download URI of the
    version, read through the artifact repository), an ``MLmodel`` is among them, and every file its flavors name
    is there.

    Problems are returned, not raised (a missing bucket or deleted artifacts are the finding, with the artifact
    store's own words): ``{ok, run_id, run_status, run_lifecycle_stage, download_uri, files, flavors, problems}``.
    """
    import yaml  # PyYAML comes with ansible-core

    number = view["version"]
    problems = []
    out = dict(ok=False, run_id=view.get("run_id"), run_status=None, run_lifecycle_stage=None, download_uri=None,
               files=[], flavors=[], problems=problems)
    run_id = view.get("run_id")
    if run_id:
        try:
            run = conn.get("read run %s of model '%s' version %d" % (run_id, name, number), "get_run", run_id)
            if run is None:
                problems.append("its run %s does not exist" % run_id)
            else:
                out.update(run_status=run.info.status, run_lifecycle_stage=run.info.lifecycle_stage)
                if run.info.lifecycle_stage == "deleted":
                    problems.append("its run %s is deleted" % run_id)
        except MlflowError as exc:
            problems.append("its run %s could not be read: %s" % (run_id, exc))
    try:
        uri = conn.call("find where model '%s' version %d's files are" % (name, number),
                        "get_model_version_download_uri", name, str(number))
        out["download_uri"] = uri
        out["files"] = files = conn.list_artifact_names(uri)
        if MLMODEL not in files:
            held = ("it holds: " + ", ".join(files[:10])) if files else "nothing is there"
            problems.append("no %s file at %s (%s)" % (MLMODEL, uri, held))
        else:
            with tempfile.TemporaryDirectory(prefix="mlops-mlmodel-") as tmp:
                mlmodel = yaml.safe_load(conn.read_artifact_text(uri, MLMODEL, tmp))
            out["flavors"] = sorted(((mlmodel or {}).get("flavors") or {}).keys())
            if not out["flavors"]:
                problems.append("its %s at %s names no flavor" % (MLMODEL, uri))
            for named in _named_paths(mlmodel):
                if named["path"] not in files:
                    problems.append("its %s names %s (%s %s) but %s holds no such file" % (
                        MLMODEL, named["path"], named["flavor"], named["key"], uri))
    except MlflowError as exc:
        problems.append(str(exc))
    except yaml.YAMLError as exc:
        problems.append("its %s is not YAML: %s" % (MLMODEL, str(exc).splitlines()[0]))
    out["ok"] = not problems
    return out


def previous_version(versions, number):
    """The newest READY version below ``number`` among ``versions`` (:func:`version_view` dicts), or None: the
    version a champion most likely replaced, which a probe must tell apart from it."""
    older = [v for v in versions if v["version"] < number and v.get("status") == "READY"]
    return max(older, key=lambda v: v["version"]) if older else None


def probe_predictions(conn, name, view, previous, inputs):
    """Predictions of model ``name``'s version ``view`` and of ``previous`` (or None) for the probe ``inputs``:
    ``{version, predictions, previous_version, previous_predictions, error}``. A version that cannot be loaded
    or predict is reported in ``error`` (its words), not raised."""
    out = dict(version=view["version"], predictions=None, previous_version=None, previous_predictions=None,
               error=None)
    for key, version in (("predictions", view), ("previous_predictions", previous)):
        if version is None:
            continue
        number = version["version"]
        if key == "previous_predictions":
            out["previous_version"] = number
        try:
            uri = conn.call("find where model '%s' version %d's files are" % (name, number),
                            "get_model_version_download_uri", name, str(number))
            with tempfile.TemporaryDirectory(prefix="mlops-probe-") as tmp:
                out[key] = conn.predict(uri, inputs, tmp)
        except MlflowError as exc:
            out["error"] = "version %d: %s" % (number, exc.msg)
            break
    return out
