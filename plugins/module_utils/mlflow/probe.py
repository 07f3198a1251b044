# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MLflow round trip: does tracking work, does the artifact store work?

:class:`Probe` starts a run in an experiment, logs a param, a metric and a
small text artifact, reads each back, and deletes what it wrote. Each step
is reported on its own (:func:`step_result`) with the component it tests, so
a broken artifact store behind a working tracking server shows as
``artifact_write`` failing while ``params`` and ``metrics`` pass. A failing
step never raises; only a tracking server that does not answer at all does
(:class:`~.exceptions.MlflowUnreachableError` from the first request).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import uuid

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import (
    MlflowError,
    MlflowUnreachableError,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.experiment import DELETED

TRACKING = "mlflow tracking"
ARTIFACTS = "mlflow artifact store"
STEPS = ("tracking", "params", "metrics", "artifact_write", "artifact_read", "cleanup")
COMPONENTS = dict(tracking=TRACKING, params=TRACKING, metrics=TRACKING, artifact_write=ARTIFACTS,
                  artifact_read=ARTIFACTS, cleanup=TRACKING)
# What each step needs to have passed before it can run.
NEEDS = dict(params=("tracking",), metrics=("tracking",), artifact_write=("tracking",),
             artifact_read=("artifact_write",), cleanup=("tracking",))
# At the run's artifact root: deleting a file leaves no empty directory behind (SeaweedFS keeps those).
ARTIFACT_FILE = "baremetal-mlops-probe.txt"
PARAM_KEY = "probe_token"
METRIC_KEY = "probe_value"
RUN_NAME = "baremetal-mlops-probe"


def step_result(name, ok, error=None, elapsed_ms=0, skipped=False, component=None):
    """One entry of ``steps``: the step, whether it passed, its component and error."""
    return dict(name=name, ok=bool(ok), skipped=bool(skipped), component=component or COMPONENTS[name],
                error=error, elapsed_ms=int(elapsed_ms))


def summarize(steps):
    """``ok`` (every step that ran passed) and ``failed_component`` (of the first that failed, or None)."""
    failed = [s for s in steps if not s["ok"] and not s["skipped"]]
    return dict(ok=not failed, failed_component=failed[0]["component"] if failed else None)


class Probe(object):
    """The round trip through tracking and the artifact store of one tracking server.

    :param conn: an :class:`~.client.MlflowConnection`.
    :param experiment: name of the experiment the probe run goes to (created, or restored, if needed).
    """

    def __init__(self, conn, experiment, clock=time.monotonic):
        self.conn = conn
        self.experiment = experiment
        self.clock = clock
        self.token = uuid.uuid4().hex
        self.metric = round(random.uniform(0, 1000), 3)
        self.payload = ("baremetal.mlops mlflow_probe %s\n" % self.token).encode("utf-8")
        self.run = None
        self.experiment_id = None
        self.steps = []
        self.passed = set()

    def reach(self):
        """One cheap request; raises :class:`MlflowUnreachableError` when the server does not answer."""
        self.conn.call("search experiments", "search_experiments", max_results=1)

    def result(self):
        out = dict(steps=self.steps, run_id=self.run.info.run_id if self.run else None,
                   experiment_id=self.experiment_id)
        out.update(summarize(self.steps))
        return out

    def check(self):
        """Check mode: only ask the server to answer; every step that writes is skipped."""
        self._step("tracking", self.reach, first=True)
        for name in STEPS[1:]:
            self.steps.append(step_result(name, False, skipped=True, error="skipped in check mode"))
        return self.result()

    def probe(self):
        """Every step, in order; returns ``dict(steps, ok, failed_component, run_id, experiment_id)``."""
        self._step("tracking", self._tracking, first=True)
        self._step("params", self._params)
        self._step("metrics", self._metrics)
        self._step("artifact_write", self._artifact_write)
        self._step("artifact_read", self._artifact_read)
        self._cleanup()
        return self.result()

    def _step(self, name, func, first=False):
        missing = [need for need in NEEDS.get(name, ()) if need not in self.passed]
        if missing:
            self.steps.append(step_result(name, False, skipped=True,
                                          error="not run: step %s failed" % ", ".join(missing)))
            return
        start = self.clock()
        try:
            func()
        except MlflowError as exc:
            if first and isinstance(exc, MlflowUnreachableError):
                raise
            self.steps.append(step_result(name, False, error=exc.message, elapsed_ms=(self.clock() - start) * 1000))
            return
        self.passed.add(name)
        self.steps.append(step_result(name, True, elapsed_ms=(self.clock() - start) * 1000))

    def _tracking(self):
        self.reach()
        exp = self.conn.get("look up experiment '%s'" % self.experiment, "get_experiment_by_name", self.experiment)
        if exp is None:
            self.experiment_id = self.conn.call("create experiment '%s'" % self.experiment, "create_experiment",
                                                self.experiment)
        else:
            self.experiment_id = exp.experiment_id
            if exp.lifecycle_stage == DELETED:
                self.conn.call("restore experiment '%s'" % self.experiment, "restore_experiment", self.experiment_id)
        self.run = self.conn.call("start a run in experiment '%s'" % self.experiment, "create_run",
                                  self.experiment_id, run_name=RUN_NAME)

    def _read_run(self, what):
        return self.conn.call("read back the %s of run %s" % (what, self.run.info.run_id), "get_run",
                              self.run.info.run_id)

    def _params(self):
        run_id = self.run.info.run_id
        self.conn.call("log param %s to run %s" % (PARAM_KEY, run_id), "log_param", run_id, PARAM_KEY, self.token)
        found = self._read_run("param").data.params.get(PARAM_KEY)
        if found != self.token:
            raise MlflowError("param %s of run %s reads back as %r, not the %r written." % (
                PARAM_KEY, run_id, found, self.token), tracking_uri=self.conn.tracking_uri,
                component=TRACKING, hint="check the tracking server's backend store (database)")

    def _metrics(self):
        run_id = self.run.info.run_id
        self.conn.call("log metric %s to run %s" % (METRIC_KEY, run_id), "log_metric", run_id, METRIC_KEY,
                       self.metric, step=0)
        found = self._read_run("metric").data.metrics.get(METRIC_KEY)
        if found is None or abs(found - self.metric) > 1e-9:
            raise MlflowError("metric %s of run %s reads back as %r, not the %r written." % (
                METRIC_KEY, run_id, found, self.metric), tracking_uri=self.conn.tracking_uri,
                component=TRACKING, hint="check the tracking server's backend store (database)")

    def _artifact_write(self):
        run_id = self.run.info.run_id
        self.conn.call("write artifact %s of run %s" % (ARTIFACT_FILE, run_id), "log_text",
                       run_id, self.payload.decode("utf-8"), ARTIFACT_FILE, component=ARTIFACTS)

    def _artifact_read(self):
        run_id = self.run.info.run_id
        path = ARTIFACT_FILE
        tmp = tempfile.mkdtemp(prefix="mlflow-probe-")
        try:
            local = self.conn.call("read back artifact %s of run %s" % (path, run_id), "download_artifacts",
                                   run_id, path, dst_path=tmp, component=ARTIFACTS)
            with open(local, "rb") as handle:
                found = handle.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if found != self.payload:
            raise MlflowError("artifact %s of run %s reads back as %d bytes that differ from the %d written." % (
                path, run_id, len(found), len(self.payload)), tracking_uri=self.conn.tracking_uri,
                component=ARTIFACTS, hint="check the storage behind the tracking server (--artifacts-destination)")

    def _cleanup(self):
        if "tracking" not in self.passed:
            self._step("cleanup", None)
            return
        errors = []
        component = None
        start = self.clock()
        if "artifact_write" in self.passed:
            try:
                self.conn.delete_artifacts(self.run.info.artifact_uri, ARTIFACT_FILE)
            except MlflowError as exc:
                errors.append(exc.message)
                component = ARTIFACTS
        try:
            self.conn.call("delete run %s" % self.run.info.run_id, "delete_run", self.run.info.run_id)
        except MlflowError as exc:
            errors.append(exc.message)
            component = TRACKING
        self.steps.append(step_result("cleanup", not errors, error=" ".join(errors) or None,
                                      elapsed_ms=(self.clock() - start) * 1000, component=component))
