# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Probe result shaping."""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import probe


def test_steps_and_components():
    assert probe.STEPS == ("tracking", "params", "metrics", "artifact_write", "artifact_read", "cleanup")
    assert [probe.COMPONENTS[s] for s in probe.STEPS] == [
        "mlflow tracking", "mlflow tracking", "mlflow tracking", "mlflow artifact store", "mlflow artifact store",
        "mlflow tracking"]


def test_step_result_shape():
    assert probe.step_result("params", True, elapsed_ms=12.7) == dict(
        name="params", ok=True, skipped=False, component="mlflow tracking", error=None, elapsed_ms=12)
    assert probe.step_result("cleanup", False, error="x", component="mlflow artifact store")["component"] == \
        "mlflow artifact store"


def test_summary_names_the_first_failed_component_and_ignores_skipped_steps():
    steps = [probe.step_result("tracking", True), probe.step_result("params", True),
             probe.step_result("metrics", True), probe.step_result("artifact_write", False, error="HTTP 500"),
             probe.step_result("artifact_read", False, skipped=True, error="not run"),
             probe.step_result("cleanup", False, error="x")]
    assert probe.summarize(steps) == dict(ok=False, failed_component="mlflow artifact store")
    skipped_only = [probe.step_result("tracking", True)] + [
        probe.step_result(name, False, skipped=True) for name in probe.STEPS[1:]]
    assert probe.summarize(skipped_only) == dict(ok=True, failed_component=None)
