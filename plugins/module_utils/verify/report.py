# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verify report: a JSON document and a human summary of check records."""

from __future__ import annotations

import json

LAYERS = ("hardware", "kubernetes", "data_services", "mlflow", "feast", "kserve")


def build(checks, started=None, finished=None, duration_s=None, layers=None):
    ordered = sorted(checks, key=lambda c: (LAYERS.index(c["layer"]) if c.get("layer") in LAYERS else len(LAYERS),
                                            c.get("host") or "", c.get("component", ""), c.get("check", "")))
    failed = [c for c in ordered if not c.get("ok")]
    seen_layers = sorted({c.get("layer") for c in ordered},
                         key=lambda name: LAYERS.index(name) if name in LAYERS else len(LAYERS))
    return {
        "ok": not failed and bool(ordered),
        "started": started,
        "finished": finished,
        "duration_s": duration_s,
        "layers": sorted(layers, key=lambda name: LAYERS.index(name) if name in LAYERS else len(LAYERS))
        if layers else seen_layers,
        "counts": {"checks": len(ordered), "passed": len(ordered) - len(failed), "failed": len(failed)},
        "failures": failed,
        "checks": ordered,
    }


def summary(report):
    """Human summary: one line per check, then every failure with what was seen and expected and the fix."""
    lines = []
    counts = report["counts"]
    verdict = "PASSED" if report["ok"] else "FAILED"
    duration = (" in %.1f s" % report["duration_s"]) if report.get("duration_s") is not None else ""
    lines.append("verify %s: %d checks, %d passed, %d failed%s (layers: %s)" % (
        verdict, counts["checks"], counts["passed"], counts["failed"], duration, ", ".join(report["layers"])))
    if not report["checks"]:
        lines.append("no check ran: select at least one layer (tags hardware, kubernetes, data_services, mlflow, "
                     "feast, kserve)")
    for check in report["checks"]:
        where = "%s/%s" % (check["layer"], check["component"]) + (" @%s" % check["host"] if check.get("host") else "")
        lines.append("  %s  %-40s %s" % ("ok  " if check["ok"] else "FAIL", where, check["check"]))
    for check in report["failures"]:
        where = "%s/%s" % (check["layer"], check["component"]) + (" @%s" % check["host"] if check.get("host") else "")
        lines.append("")
        lines.append("FAIL %s: %s" % (where, check["check"]))
        lines.append("  seen:     %s" % check["seen"])
        lines.append("  expected: %s" % check["expected"])
        lines.append("  fix:      %s" % check["fix"])
    return "\n".join(lines) + "\n"


def dumps(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
