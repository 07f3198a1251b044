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


def test_a_secret_split_by_a_url_parser_is_removed_in_every_piece():
    """Issue 21: a password with '@' placed raw in a registry URL came back as a "host"."""
    secret = "Qx7@Zj9v:/Kw?#%4{Jq}[V]'\"Xz"
    url = "postgresql+psycopg://feast:%s@db:5432/feast" % secret
    # What SQLAlchemy-like parsing makes of it: the userinfo ends at the first '@', the rest is the host.
    message = "could not translate host name \"Zj9v\" ... port 'Kw?#' ... Jq ... Xz; " + url
    out = redact(message, secrets=[secret])
    assert not [secret[i:i + 4] for i in range(len(secret) - 3) if secret[i:i + 4] in out], out
    assert "db:5432/feast" in out and "could not translate host name" in out


def test_quoted_base64_and_hex_forms_are_removed():
    import base64
    from urllib.parse import quote
    secret = "p@ss:w/rd?2026"
    for form in (quote(secret, safe=""), base64.b64encode(secret.encode()).decode(), secret.encode().hex()):
        assert form not in redact("seen: %s." % form, secrets=[secret])


def test_a_piece_at_the_end_of_a_long_text_is_found():
    secret = "N0t-a-Real-Secret-but-forty-chars-long!"
    text = ("harmless line of a server's error page\n" * 3000) + secret[5:20]
    out = redact(text, secrets=[secret])
    assert secret[5:20] not in out and out.startswith("harmless line") and out.endswith("********")
