# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""S3 round trip: write an object, read it back, delete it, in bounded time.

One function builds the client (:func:`make_client`): SigV4, path-style
addressing, connect/read timeouts and no retries, so that a wrong or dead
endpoint fails in seconds instead of botocore's default of 60 s per attempt
times its retries. :func:`classify` turns a botocore error into an
:class:`S3Error` that names the endpoint, the cause and the fix.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError

try:
    import boto3
    from botocore.config import Config
    from botocore import exceptions as botoexc
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # the module reports missing_required_lib
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc

AUTH_CODES = frozenset(("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                        "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity"))
COMPONENT = "s3"
# Every S3 implementation we know (AWS, MinIO, SeaweedFS, Ceph RGW) sends one of these.
S3_HEADERS = ("x-amz-request-id", "x-amz-id-2", "x-minio-deployment-id")


class S3Error(MlopsError):
    """An S3 request failed; ``kind`` is unreachable, timeout, auth, no_bucket, mismatch or error."""

    def __init__(self, msg, kind, endpoint, **kwargs):
        self.kind = kind
        self.endpoint = endpoint
        details = dict(kwargs.pop("details", None) or {})
        details.update(kind=kind, endpoint=endpoint)
        kwargs.setdefault("component", COMPONENT)
        super().__init__(msg, host=endpoint, details=details, **kwargs)


def make_client(endpoint_url, access_key, secret_key, region, timeout, verify=True):
    """A boto3 S3 client that gives up after ``timeout`` seconds per request, without retries."""
    config = Config(
        signature_version="s3v4",
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"},
        region_name=region,
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
                          aws_secret_access_key=secret_key, config=config, verify=verify)


def classify(exc, endpoint, action, bucket, key=None):
    """An :class:`S3Error` for a botocore/boto3 exception raised while doing ``action``."""
    where = "s3://%s/%s" % (bucket, key) if key else "s3://%s" % bucket
    if isinstance(exc, (botoexc.ConnectTimeoutError, botoexc.ReadTimeoutError)):
        return S3Error("%s %s timed out (%s)." % (action, where, exc), "timeout", endpoint,
                       hint="check that the endpoint URL and port are right and that a firewall does not drop the "
                            "packets; the S3 service may be overloaded")
    if isinstance(exc, botoexc.EndpointConnectionError):
        return S3Error("cannot connect to the S3 endpoint for %s %s: %s" % (action, where, exc), "unreachable",
                       endpoint, hint="check the endpoint URL (scheme, host, port) and that the S3 service runs")
    if isinstance(exc, botoexc.SSLError):
        return S3Error("TLS failed for %s %s: %s" % (action, where, exc), "tls", endpoint,
                       hint="give the CA bundle of the endpoint's certificate, or the http:// URL if it has no TLS")
    if isinstance(exc, botoexc.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = "%s %s was refused: %s %s (HTTP %s)" % (action, where, code, err.get("Message", ""), status)
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
        if not any(name in headers for name in S3_HEADERS):
            return S3Error("the endpoint answered %s %s with HTTP %s (server: %s) but not like an S3 service "
                           "(no x-amz-request-id header)" % (action, where, status, headers.get("server", "unknown")),
                           "not_s3", endpoint,
                           hint="check the endpoint URL: host and port of the S3 API, not of a proxy or another "
                                "service", details={"code": code})
        if code in AUTH_CODES or status == 403:
            return S3Error("authentication failed: " + text, "auth", endpoint,
                           hint="check the access key and secret key (and that the key may write this bucket)",
                           details={"code": code})
        if code in ("NoSuchBucket",) or (status == 404 and not key):
            return S3Error("bucket %s does not exist: %s" % (bucket, text), "no_bucket", endpoint,
                           hint="create the bucket, or set the bucket the platform uses", details={"code": code})
        return S3Error(text, "error", endpoint, hint="see the S3 service's log", details={"code": code})
    if isinstance(exc, botoexc.BotoCoreError):
        return S3Error("%s %s failed: %s" % (action, where, exc), "error", endpoint,
                       hint="check the endpoint URL and the S3 service")
    raise exc


def _timed(steps, name, action, call, endpoint, bucket, key, clock):
    start = clock()
    try:
        result = call()
    except Exception as exc:  # pylint: disable=broad-except  # classify() re-raises what is not S3
        err = classify(exc, endpoint, action, bucket, key)
        steps.append({"name": name, "ok": False, "elapsed_ms": round((clock() - start) * 1000, 1),
                      "error": err.msg})
        err.details["steps"] = steps
        err.details["failed_step"] = name
        raise err
    steps.append({"name": name, "ok": True, "elapsed_ms": round((clock() - start) * 1000, 1)})
    return result


def head_only(client, endpoint, bucket, clock=time.monotonic):
    """Only check the bucket answers (check mode); returns the steps."""
    steps = []
    _timed(steps, "head_bucket", "HeadBucket", lambda: client.head_bucket(Bucket=bucket), endpoint, bucket, None, clock)
    return steps


def round_trip(client, endpoint, bucket, prefix, payload_size=1024, clock=time.monotonic):
    """Put, get and delete one object; returns the steps, raises :class:`S3Error` at the first failure.

    Every step is a dict {name, ok, elapsed_ms}; on failure the error carries
    the steps so far in ``details['steps']``.
    """
    key = "%s%s" % (prefix, uuid.uuid4().hex)
    payload = uuid.uuid4().bytes * (payload_size // 16 + 1)
    payload = payload[:payload_size]
    digest = hashlib.sha256(payload).hexdigest()
    steps = []

    def step(name, action, call, object_key):
        return _timed(steps, name, action, call, endpoint, bucket, object_key, clock)

    step("head_bucket", "HeadBucket", lambda: client.head_bucket(Bucket=bucket), None)
    step("put_object", "PutObject", lambda: client.put_object(Bucket=bucket, Key=key, Body=payload), key)

    def get_body():
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    body = step("get_object", "GetObject", get_body, key)
    if hashlib.sha256(body).hexdigest() != digest:
        steps.append({"name": "compare", "ok": False, "elapsed_ms": 0.0,
                      "error": "read back %d bytes that differ from the %d written" % (len(body), len(payload))})
        # Leave no litter even when the store corrupts data.
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except Exception:  # pylint: disable=broad-except
            pass
        raise S3Error("s3://%s/%s read back different bytes than were written" % (bucket, key), "mismatch",
                      endpoint, hint="the object store corrupts or caches objects: check its volumes and any proxy",
                      details={"steps": steps, "failed_step": "compare"})
    steps.append({"name": "compare", "ok": True, "elapsed_ms": 0.0})
    step("delete_object", "DeleteObject", lambda: client.delete_object(Bucket=bucket, Key=key), key)
    return {"key": key, "bytes": len(payload), "sha256": digest, "steps": steps}
