"""No secret of any verify_* variable reaches the output, at any verbosity.

verify.yml runs at -vvv against the real service stack twice: on the healthy
platform, and on a broken one where every service layer fails (wrong
PostgreSQL, Redis and Feast passwords, a wrong S3 secret key, MLflow and
KServe endpoints that refuse, with bearer tokens set). Every secret value -
the real ones and the wrong ones - is searched for in stdout, stderr, the
JSON report and the summary: zero occurrences. The same search covers a
module playbook that takes secrets (feast_apply's target, at -vvv).
"""

from __future__ import annotations

import secrets as pysecrets

from platform_helpers import free_port, run_verify

SERVICE_LAYERS = "data_services,mlflow,feast,kserve"


def secret_values(variables: dict) -> list[str]:
    """Every value of a secret key (password, *_key, token, Feast's environment) in the verify_* variables."""
    found = []
    for name, value in variables.items():
        if not (name.startswith("verify_") and isinstance(value, dict)):
            continue
        for key, item in value.items():
            if key in ("password", "access_key", "secret_key", "token"):
                found.append(str(item))
            elif key == "environment":
                found.extend(str(v) for v in item.values())
    return [s for s in found if len(s) >= 8]


def leaks(run, values) -> dict:
    texts = {"stdout": run.proc.stdout, "stderr": run.proc.stderr}
    for name in ("verify-report.json", "verify-summary.txt"):
        path = run.report_dir / name
        texts[name] = path.read_text() if path.exists() else ""
    return {where: [v[:4] + "..." for v in values if v in text] for where, text in texts.items()
            if any(v in text for v in values)}


def token() -> str:
    return "tok-" + pysecrets.token_hex(16)


def test_no_secret_in_the_output_at_vvv_on_the_healthy_platform(platform, report_dir):
    overrides = {"verify_mlflow": {"token": token()}, "verify_kserve": {"token": token()}}
    inventory = platform.inventory("secrets-healthy.yml", **overrides)
    variables = platform.verify_vars()
    for key, value in overrides.items():
        variables[key] = dict(variables[key], **value)
    values = secret_values(variables)
    assert len(values) >= 8, values  # pg, redis, two S3 keys, two tokens, two Feast passwords
    run = run_verify(inventory, report_dir, SERVICE_LAYERS, verbosity=3)
    assert run.report is not None and run.report["ok"], run.explain()
    # -vvv really printed the task results (so the search below looked at something).
    assert "<127.0.0.1>" in run.proc.stdout or "ESTABLISH LOCAL CONNECTION" in run.proc.stdout, run.explain()
    assert leaks(run, values) == {}


def test_no_secret_in_the_output_at_vvv_when_every_layer_fails(platform, report_dir):
    refused = f"http://127.0.0.1:{free_port()}"
    wrong = {
        "verify_postgresql": {"password": "wrong-pg-" + pysecrets.token_hex(8)},
        "verify_redis": {"password": "wrong-redis-" + pysecrets.token_hex(8)},
        "verify_s3": {"secret_key": "wrong-s3-" + pysecrets.token_hex(12)},
        "verify_mlflow": {"tracking_uri": refused, "token": token()},
        "verify_feast": {"environment": {"MLOPS_PG_PASSWORD": "wrong-feast-pg-" + pysecrets.token_hex(8),
                                         "MLOPS_REDIS_PASSWORD": "wrong-feast-redis-" + pysecrets.token_hex(8)}},
        "verify_kserve": {"url": refused, "token": token()},
    }
    inventory = platform.inventory("secrets-broken.yml", verify_timeout_s=3, **wrong)
    variables = platform.verify_vars()
    values = secret_values(variables)  # the real secrets must not show up either
    for key, value in wrong.items():
        variables[key] = dict(variables[key], **value)
    values += secret_values(variables)
    run = run_verify(inventory, report_dir, SERVICE_LAYERS, verbosity=3)
    assert run.report is not None, run.explain()
    failed_components = {c["component"] for c in run.failures}
    assert {"postgresql", "redis", "s3", "mlflow", "kserve"} <= failed_components, run.failures
    assert any(c["layer"] == "feast" for c in run.failures), run.failures
    # Each layer recorded its own failure: verify itself did not break on the way (that would be layer "verify").
    assert not [c for c in run.failures if c["layer"] == "verify"], run.failures
    assert leaks(run, values) == {}


def special_password(tag: str) -> str:
    """A password made of every URL- and template-special character (no "{{": see docs/verify.md, "Secrets in
    the inventory") between pairs of rare letters, so that any 4 characters of it found in the output are a leak,
    not chance. Each one is different (tag)."""
    letters = "QXZJVKWqxzjvkw"
    specials = "@:/?#%{}[]'\"&="
    rare = [letters[(i * 5 + len(tag) + ord(tag[0])) % len(letters)] + letters[(i * 3 + ord(tag[-1])) % len(letters)]
            for i in range(len(specials) + 1)]
    return tag[:2].upper() + "".join(r + s for r, s in zip(rare, specials)) + rare[-1]


def pieces(secret: str, size: int = 4) -> set:
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def test_no_piece_of_a_password_made_of_url_characters_at_vvv_when_every_layer_fails(platform, report_dir):
    """Issue 21: a Feast password with '@' placed raw in the registry URL was cut apart by the URL parser; the part
    after the '@' came out as a "host" (19 times at -vvv, in the summary and in the report). Every password here is
    made of URL- and template-special characters; no 4 characters of any of them may appear anywhere."""
    wrong = {
        "verify_postgresql": {"password": special_password("pg")},
        "verify_redis": {"password": special_password("rd")},
        "verify_s3": {"secret_key": special_password("s3")},
        "verify_feast": {"environment": {"MLOPS_PG_PASSWORD": special_password("fp"),
                                         "MLOPS_REDIS_PASSWORD": special_password("fr")}},
    }
    inventory = platform.inventory("secrets-special.yml", verify_timeout_s=3, **wrong)
    run = run_verify(inventory, report_dir, "data_services,feast", verbosity=3)
    assert run.report is not None, run.explain()
    failed_components = {c["component"] for c in run.failures}
    assert {"postgresql", "redis", "s3"} <= failed_components, run.failures
    assert any(c["layer"] == "feast" for c in run.failures), run.failures
    assert not [c for c in run.failures if c["layer"] == "verify"], run.failures
    texts = {"stdout": run.proc.stdout, "stderr": run.proc.stderr}
    for name in ("verify-report.json", "verify-summary.txt"):
        path = run.report_dir / name
        texts[name] = path.read_text() if path.exists() else ""
    assert "<127.0.0.1>" in run.proc.stdout or "ESTABLISH LOCAL CONNECTION" in run.proc.stdout, run.explain()
    secrets = [wrong["verify_postgresql"]["password"], wrong["verify_redis"]["password"],
               wrong["verify_s3"]["secret_key"], *wrong["verify_feast"]["environment"].values()]
    found = {where: sorted({p for s in secrets for p in pieces(s) if p in text}) for where, text in texts.items()}
    assert {where: p for where, p in found.items() if p} == {}


def test_a_plaintext_password_with_template_characters_fails_its_layer_and_stays_out_of_the_report(platform,
                                                                                                   report_dir):
    """Issue 21: a plaintext inventory password containing "{{" is evaluated by Ansible (ansible-core then prints
    the inventory line, which verify cannot prevent: docs/verify.md and the README say to use vault or !unsafe).
    The report named no component and blamed PostgreSQL for Redis; now the layer whose settings hold it fails by
    name, the other layers run, and the report and summary hold no piece of it."""
    secret = "QZab{{cdXJvw"
    inventory = platform.inventory("template-chars.yml", verify_redis={"password": secret})
    run = run_verify(inventory, report_dir, "data_services,feast")
    assert run.report is not None, run.explain()
    settings = run.check("data_services settings", "settings valid")
    assert settings["status"] == "failed" and "template" in settings["seen"].lower(), settings
    assert all(c["layer"] != "verify" for c in run.failures), run.failures
    assert run.check("feast online store", "fresh")["status"] == "passed"
    for name in ("verify-report.json", "verify-summary.txt"):
        text = (run.report_dir / name).read_text()
        assert not [p for p in pieces(secret) if p in text], name
