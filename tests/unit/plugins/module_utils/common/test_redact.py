"""The one scrubber of text that leaves a module (module_utils/common/redact.py)."""

from ansible_collections.baremetal.mlops.plugins.module_utils.common.redact import redact


def test_secrets_url_passwords_pairs_and_bearer_tokens_go():
    text = ("postgresql+psycopg://u:s3cret@db:5432/feast failed; password=hunter2, token abc; "
            "Authorization: Bearer eyJhbGciOi.x-y_z")
    out = redact(text, secrets=["abc"])
    for secret in ("s3cret", "hunter2", "abc", "eyJhbGciOi"):
        assert secret not in out
    assert "db:5432" in out and "u:********@db" in out


def test_a_secret_is_removed_before_the_cut():
    secret = "x" * 40
    out = redact("error: " + secret, secrets=[secret], limit=20)
    assert "xxxx" not in out


def test_long_text_is_bounded_and_says_so():
    out = redact("e" * 1000, limit=100)
    assert out.startswith("e" * 100) and out.endswith("... (900 more characters)")
    assert redact("short", limit=100) == "short"


def test_empty_and_none_secrets_are_ignored():
    assert redact("nothing here", secrets=["", None]) == "nothing here"


def test_one_line_drops_blank_lines_and_sqlalchemy_links():
    from ansible_collections.baremetal.mlops.plugins.module_utils.common.redact import one_line

    text = 'FATAL:  database "mlflow" does not exist\n\n(Background on this error at: https://sqlalche.me/e/21/e3q8)'
    assert one_line(text) == 'FATAL:  database "mlflow" does not exist'
