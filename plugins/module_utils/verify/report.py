# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verify report: a JSON document and a human summary of check records.

:func:`build` completes the records first (:func:`complete`): every check of
the catalog (``checks.CATALOG``) of each selected layer is in the report,
passed, failed or not run. A catalog check that no task recorded becomes a
"not run" record that counts as a failure, naming what stopped it. So a
check can fail, or not run, but never vanish.
"""

from __future__ import annotations

import json

from ansible_collections.baremetal.mlops.plugins.module_utils.verify.checks import (
    CATALOG,
    FAILED,
    LAYERS,
    NOT_RUN,
    PASSED,
    not_run,
)


def _layer_index(name):
    return LAYERS.index(name) if name in LAYERS else len(LAYERS)


def _catalog_index(check):
    """Position of the check in its layer's catalog (identity before readiness...); checks outside it (configured,
    reachable, endpoint answers: what the catalog checks depend on) come first."""
    keys = [entry[0] for entry in CATALOG.get(check.get("layer"), ())]
    return keys.index(check["key"]) if check.get("key") in keys else -1


def normalise(check):
    """A record with ``status`` and ``key`` (records built outside checks.py may carry only ``ok``)."""
    rec = dict(check)
    if rec.get("status") not in (PASSED, FAILED, NOT_RUN):
        rec["status"] = PASSED if rec.get("ok") else FAILED
    rec.setdefault("key", "%s.%s" % (rec.get("component"), rec.get("check")))
    rec["ok"] = rec["status"] == PASSED or (rec["status"] == NOT_RUN and bool(rec.get("chosen")))
    return rec


def _blocker(records, layer, component):
    """The record that most likely stopped a missing check: a failure of its component, its layer, or verify."""
    bad = [r for r in records if not r["ok"]]
    matches = (lambda r: r.get("layer") == layer and r.get("component") == component,
               lambda r: r.get("layer") == layer,
               lambda r: r.get("layer") == "verify")
    # A failure first (the root cause: a layer's invalid settings), then a check that did not run itself.
    for candidates in ([r for r in bad if r["status"] == FAILED], bad):
        for match in matches:
            found = [r for r in candidates if match(r)]
            if found:
                return found[0]
    return None


def complete(checks, layers):
    """``checks`` plus a failing "not run" record for each catalog check of ``layers`` that none of them is."""
    records = [normalise(c) for c in checks]
    keys = {(r.get("layer"), r["key"]) for r in records}
    for layer in layers or ():
        for key, component, check, expected in CATALOG.get(layer, ()):
            if (layer, key) in keys:
                continue
            blocker = _blocker(records, layer, component)
            if blocker:
                reason = "%s/%s '%s' did not pass" % (blocker["layer"], blocker["component"], blocker["check"])
                fix = "fix '%s' (above), then rerun" % blocker["check"]
            else:
                reason = "no task of verify recorded this check (a bug in verify: please report it)"
                fix = "rerun with -vvv and report the output; until then, check %s by hand" % component
            records.append(not_run(layer, component, check, reason, expected, fix, key=key))
    return records


def build(checks, started=None, finished=None, duration_s=None, layers=None):
    """The report. ``layers``: the selected layers (their catalog checks are completed); None: those seen."""
    records = complete(checks, [name for name in layers or () if name in CATALOG])
    ordered = sorted(records, key=lambda c: (_layer_index(c.get("layer")), c.get("host") or "",
                                             _catalog_index(c), c.get("component", ""), c.get("check", "")))
    failures = [c for c in ordered if not c["ok"]]
    counts = {"checks": len(ordered),
              "passed": len([c for c in ordered if c["status"] == PASSED]),
              "failed": len([c for c in ordered if c["status"] == FAILED]),
              "not_run": len([c for c in ordered if c["status"] == NOT_RUN and not c.get("chosen")]),
              "skipped": len([c for c in ordered if c["status"] == NOT_RUN and c.get("chosen")])}
    seen_layers = sorted({c.get("layer") for c in ordered}, key=_layer_index)
    return {
        "ok": not failures and counts["passed"] > 0,
        "started": started,
        "finished": finished,
        "duration_s": duration_s,
        "layers": sorted(layers, key=_layer_index) if layers else seen_layers,
        "counts": counts,
        "failures": failures,
        "checks": ordered,
    }


def _label(check):
    if check["status"] == PASSED:
        return "ok     "
    if check["status"] == FAILED:
        return "FAIL   "
    return "skipped" if check.get("chosen") else "NOT RUN"


def _where(check):
    return "%s/%s" % (check["layer"], check["component"]) + (" @%s" % check["host"] if check.get("host") else "")


def summary(report):
    """Human summary: one line per check, then every failure (and unchosen "not run") with seen, expected, fix."""
    lines = []
    counts = report["counts"]
    verdict = "PASSED" if report["ok"] else "FAILED"
    duration = (" in %.1f s" % report["duration_s"]) if report.get("duration_s") is not None else ""
    lines.append("verify %s: %d checks, %d passed, %d failed, %d not run, %d skipped%s (layers: %s)" % (
        verdict, counts["checks"], counts["passed"], counts["failed"], counts.get("not_run", 0),
        counts.get("skipped", 0), duration, ", ".join(report["layers"])))
    if not report["checks"]:
        lines.append("no check ran: select at least one layer (tags %s)" % ", ".join(LAYERS))
    for check in report["checks"]:
        note = "  (%s)" % check["seen"][len("not run: "):] if check.get("chosen") else ""
        lines.append("  %s  %-40s %s%s" % (_label(check), _where(check), check["check"], note))
    for check in report["failures"]:
        lines.append("")
        lines.append("%s %s: %s" % ("FAIL" if check["status"] == FAILED else "NOT RUN", _where(check),
                                    check["check"]))
        lines.append("  seen:     %s" % check["seen"])
        lines.append("  expected: %s" % check["expected"])
        lines.append("  fix:      %s" % check["fix"])
    return "\n".join(lines) + "\n"


def dumps(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
