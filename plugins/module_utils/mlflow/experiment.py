# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MLflow experiments: plan from current vs desired, then apply.

:func:`plan_experiment` is pure: from the experiment as it is (a view from
:func:`experiment_view`, or None) and the module's params it computes the
ordered actions and the predicted view after them. :func:`apply_plan` runs
the actions through an :class:`~.client.MlflowConnection`; the module then
reads the experiment again for its result.
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import MlflowRefusedError

ACTIVE = "active"
DELETED = "deleted"


def normalize_tags(tags):
    """Tags as MLflow stores them: string keys and string values."""
    return dict((str(key), _tag_value(value)) for key, value in (tags or {}).items())


def _tag_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def experiment_view(exp):
    """What the module returns about an MLflow ``Experiment`` (None for None)."""
    if exp is None:
        return None
    return dict(
        experiment_id=exp.experiment_id,
        name=exp.name,
        lifecycle_stage=exp.lifecycle_stage,
        artifact_location=exp.artifact_location,
        tags=dict(exp.tags or {}),
    )


def same_location(left, right):
    """Whether two artifact locations name the same place (a trailing slash aside)."""
    return (left or "").rstrip("/") == (right or "").rstrip("/")


def plan_experiment(current, state, name, artifact_location=None, tags=None, tracking_uri=None):
    """Actions that take experiment ``name`` from ``current`` to ``state``.

    :param current: :func:`experiment_view` of the experiment named ``name``, or None.
    :returns: ``dict(actions=[...], after=view)``; each action is a dict with
        ``action`` (``create``, ``restore``, ``set_tag`` or ``delete``) and, for
        ``set_tag``, ``key`` and ``value``. ``after`` is the predicted view, None
        when there is no experiment before or after.
    :raises MlflowRefusedError: ``artifact_location`` differs from the existing
        experiment's (MLflow cannot change it).
    """
    desired_tags = normalize_tags(tags)
    if state == "absent":
        if current is None or current["lifecycle_stage"] == DELETED:
            return dict(actions=[], after=current)
        return dict(actions=[dict(action="delete")], after=dict(current, lifecycle_stage=DELETED))

    if current is None:
        after = dict(experiment_id=None, name=name, lifecycle_stage=ACTIVE, artifact_location=artifact_location,
                     tags=desired_tags)
        return dict(actions=[dict(action="create", artifact_location=artifact_location, tags=desired_tags)],
                    after=after)

    if artifact_location and not same_location(artifact_location, current["artifact_location"]):
        raise MlflowRefusedError(
            "experiment '%s' (id %s) stores its artifacts in %s, not in %s; MLflow cannot move them, nothing was "
            "changed." % (name, current["experiment_id"], current["artifact_location"], artifact_location),
            tracking_uri=tracking_uri,
            hint="leave artifact_location out (or set it to %s), or use a new experiment name"
                 % current["artifact_location"])
    actions = []
    after = dict(current, tags=dict(current["tags"]))
    if current["lifecycle_stage"] == DELETED:
        actions.append(dict(action="restore"))
        after["lifecycle_stage"] = ACTIVE
    for key in sorted(desired_tags):
        if current["tags"].get(key) != desired_tags[key]:
            actions.append(dict(action="set_tag", key=key, value=desired_tags[key]))
            after["tags"][key] = desired_tags[key]
    return dict(actions=actions, after=after)


def find_experiment(conn, name):
    """:func:`experiment_view` of the experiment named ``name``, deleted ones included; None if none."""
    exp = conn.get("look up experiment '%s'" % name, "get_experiment_by_name", name)
    return experiment_view(exp)


def apply_plan(conn, name, current, actions):
    """Run ``actions`` (from :func:`plan_experiment`); returns the experiment's id."""
    experiment_id = current["experiment_id"] if current else None
    for step in actions:
        if step["action"] == "create":
            experiment_id = conn.call("create experiment '%s'" % name, "create_experiment", name,
                                      artifact_location=step["artifact_location"], tags=step["tags"] or None)
        elif step["action"] == "restore":
            conn.call("restore deleted experiment '%s' (id %s)" % (name, experiment_id), "restore_experiment",
                      experiment_id)
        elif step["action"] == "set_tag":
            conn.call("set tag '%s' of experiment '%s'" % (step["key"], name), "set_experiment_tag",
                      experiment_id, step["key"], step["value"])
        elif step["action"] == "delete":
            conn.call("delete experiment '%s' (id %s)" % (name, experiment_id), "delete_experiment", experiment_id)
    return experiment_id


def read_experiment(conn, experiment_id):
    """:func:`experiment_view` of experiment ``experiment_id``."""
    return experiment_view(conn.call("read experiment %s" % experiment_id, "get_experiment", experiment_id))
