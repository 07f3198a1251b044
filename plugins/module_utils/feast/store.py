# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Open a Feast feature repository in bounded time, and report its stores' errors with context.

The only place that imports Feast (guarded: modules check :data:`HAS_FEAST`
and fail with ``missing_required_lib``). :func:`open_repo` is the one way the
modules get a ``FeatureStore``:

* the ``environment`` option's variables are set while the repository is
  used (feature_store.yaml expands ``${VAR}``), then restored;
* every connection is bounded by ``timeout``: ``PGCONNECT_TIMEOUT`` for the
  SQL registry and the postgres offline store (libpq and psycopg honour it),
  a Redis client with connect/socket timeouts and no retries (redis-py
  retries with backoff by default), and a SIGALRM deadline around setup and
  reads;
* ``read_only=True`` (check mode, ``*_info``) opens the SQL registry without
  Feast's bookkeeping writes (creating tables, the project's uuid row); a
  registry whose tables do not exist yet reads as empty;
* Feast's prints and progress bars never reach the module's stdout.

Errors raised by Feast, SQLAlchemy, psycopg or redis-py become
:class:`FeastError` subclasses naming the store's endpoint.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
import warnings
from urllib.parse import quote

from ansible_collections.baremetal.mlops.plugins.module_utils.common.redact import one_line, redact
from ansible_collections.baremetal.mlops.plugins.module_utils.feast.exceptions import (
    FeastError,
    FeastOfflineStoreError,
    FeastOnlineStoreError,
    FeastRegistryError,
    FeastRepoError,
    FeastTimeoutError,
)

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from feast import FeatureStore
        from feast.infra.registry.registry import Registry
        from feast.infra.registry.sql import FeastRegistrySchemaError, SqlRegistry
        from feast.infra.registry.sql import metadata as sql_registry_metadata
        from feast.project import Project
        from feast.repo_config import RegistryConfig
        from feast.repo_operations import parse_repo
        from sqlalchemy import inspect as sa_inspect
except ImportError:
    HAS_FEAST = False
    FEAST_IMPORT_ERROR = traceback.format_exc()
    SqlRegistry = object
else:
    HAS_FEAST = True
    FEAST_IMPORT_ERROR = None

FEATURE_STORE_YAML = "feature_store.yaml"


# --- endpoints (pure) -----------------------------------------------------------------------------------------------

def _host_port(host, port):
    if host and ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "%s:%s" % (host or "localhost", port) if port else (host or "localhost")


def url_endpoint(url, default_port=None):
    """``host:port`` of a URL such as ``postgresql+psycopg://user:pw@db:5432/feast``; credentials dropped."""
    if not url:
        return None
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d+))?", url)
    if not match:
        return None
    host = match.group(1).strip("[]")
    return _host_port(host, match.group(2) or default_port)


def redis_endpoint(connection_string):
    """``host:port`` of the first node of Feast's Redis connection string (``host:port,password=...``)."""
    for part in (connection_string or "").split(","):
        part = part.strip()
        if part and "=" not in part:
            host, _sep, port = part.rpartition(":")
            return _host_port(host, port) if host else _host_port(part, None)
    return None


# --- process context ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def environment(variables):
    """Set environment variables for the duration of the block, then restore the previous values."""
    saved = dict((name, os.environ.get(name)) for name in variables)
    try:
        for name, value in variables.items():
            os.environ[name] = "" if value is None else str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def quiet():
    """Keep Feast's prints, progress bars, warnings and log lines off stdout/stderr (stdout is the module's JSON)."""
    sink = io.StringIO()
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield sink
    finally:
        root.setLevel(previous_level)


class _Expired(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that Feast's ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def deadline(seconds, on_expiry):
    """Raise ``on_expiry()`` (a FeastError) when the block runs longer than ``seconds``.

    Uses SIGALRM, so only in the main thread; elsewhere the block runs unbounded
    (the connection timeouts still apply).
    """
    usable = seconds and seconds > 0 and hasattr(signal, "SIGALRM")
    try:
        previous = signal.signal(signal.SIGALRM, _raise_expired) if usable else None
    except ValueError:  # not the main thread
        usable = False
    if usable:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise on_expiry()
    finally:
        if usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _raise_expired(signum, frame):
    raise _Expired()


# --- the read-only registry -----------------------------------------------------------------------------------------

class RegistryNeverApplied(Exception):
    """Not one registry table exists: nothing was ever applied to this database."""


class RegistryIncomplete(Exception):
    """Some registry tables exist and others do not: a damaged or partial schema."""

    def __init__(self, missing, present):
        self.missing = sorted(missing)
        self.present = sorted(present)
        super().__init__("tables %s missing while %s exist" % (", ".join(self.missing), ", ".join(self.present)))


class ReadOnlySqlRegistry(SqlRegistry):
    """Feast's SQL registry without the writes it makes when opened.

    ``SqlRegistry.__init__`` creates missing tables, inserts the project's
    ``project_uuid`` metadata row and copies projects from the metadata table
    to the projects table. Check mode and ``*_info`` must not write, so those
    two hooks do nothing here and the schema is only verified - telling a
    registry that was never applied (no table at all: it reads as empty) from
    one with tables missing (an error naming them).
    """

    @staticmethod
    def _verify_schema(engine, registry_metadata=None):
        registry_metadata = sql_registry_metadata if registry_metadata is None else registry_metadata
        expected = set(registry_metadata.tables.keys())
        present = expected & set(sa_inspect(engine).get_table_names(schema=registry_metadata.schema))
        if not present:
            raise RegistryNeverApplied()
        if present != expected:
            raise RegistryIncomplete(expected - present, present)

    def _maybe_init_project_metadata(self, project):
        return None

    def _sync_feast_metadata_to_projects_table(self):
        return None


# --- the repository -------------------------------------------------------------------------------------------------

class FeastRepo(object):
    """A feature repository opened with :func:`open_repo`: its store, project and store endpoints."""

    def __init__(self, path, store, timeout, secrets, registry_missing=False):
        self.path = path
        self.store = store
        self.timeout = timeout
        self.secrets = tuple(secrets)
        # True when read_only found no registry tables: the registry is empty (never applied).
        self.registry_missing = registry_missing
        config = store.config
        self.project = config.project
        registry = config.registry
        self.registry_endpoint = url_endpoint(getattr(registry, "path", None), default_port="5432") or str(
            getattr(registry, "path", ""))
        online = config.online_store
        self.online_type = getattr(online, "type", None)
        if self.online_type == "redis":
            self.online_endpoint = redis_endpoint(online.connection_string)
        else:
            self.online_endpoint = _store_endpoint(online) or str(self.online_type)
        self.offline_endpoint = _store_endpoint(config.offline_store) or str(getattr(config.offline_store, "type", ""))

    # Errors ------------------------------------------------------------------------------------------------------

    def registry_error(self, action, exc):
        return FeastRegistryError(
            "cannot %s: %s" % (action, self.cause(exc)), host=self.registry_endpoint,
            hint="check that the registry database at %s is up and that the credentials feature_store.yaml expands "
                 "(from the environment option) are right" % self.registry_endpoint)

    def online_error(self, action, exc):
        return FeastOnlineStoreError(
            "cannot %s: %s" % (action, self.cause(exc)), host=self.online_endpoint,
            hint="check that the online store (%s) at %s is up and that online_store in feature_store.yaml points "
                 "at it with the right password" % (self.online_type, self.online_endpoint))

    def offline_error(self, action, exc):
        return FeastOfflineStoreError(
            "cannot %s: %s" % (action, self.cause(exc)), host=self.offline_endpoint,
            hint="check that the offline store at %s is up, that offline_store in feature_store.yaml is right "
                 "(postgres: sslmode, database, credentials) and that the source tables exist" % self.offline_endpoint)

    def timeout_error(self, action):
        return FeastTimeoutError(
            "%s did not finish within %s s" % (action, self.timeout), host=self.path, component="feast",
            hint="check that the registry (%s) and the online store (%s) answer, or raise timeout"
                 % (self.registry_endpoint, self.online_endpoint))

    def cause(self, exc):
        return redact("%s: %s" % (type(exc).__name__, one_line(exc) or repr(exc)), self.secrets)

    def error_for(self, action, exc):
        """The FeastError for an exception raised while doing ``action``, by the library that raised it."""
        if isinstance(exc, FeastError):
            return exc
        origin = type(exc).__module__ or ""
        chain = [exc, exc.__cause__, exc.__context__]
        origins = " ".join((type(e).__module__ or "") for e in chain if e is not None)
        if origin.startswith("redis") or " redis" in " " + origins:
            return self.online_error(action, exc)
        if origin.startswith("sqlalchemy"):
            return self.registry_error(action, exc)
        if origin.startswith(("psycopg", "psycopg_pool", "psycopg2")):
            return self.offline_error(action, exc)
        return FeastError("cannot %s: %s" % (action, self.cause(exc)), host=self.path, component="feast",
                          hint="see the Feast error above; check the feature repository and its stores")

    @contextlib.contextmanager
    def errors(self, action, bounded=False):
        """Turn any exception of the block into the FeastError naming the store; optionally under the deadline."""
        bound = deadline(self.timeout, lambda: self.timeout_error(action)) if bounded else contextlib.nullcontext()
        try:
            with bound, quiet():
                yield
        except FeastError:
            raise
        except Exception as exc:
            raise self.error_for(action, exc)

    # Reads --------------------------------------------------------------------------------------------------------

    def contents(self):
        """The repository's definitions (Feast ``RepoContents``), with the project of feature_store.yaml."""
        return load_contents(self.path, self.project)


def _store_endpoint(config):
    host = getattr(config, "host", None)
    if not host:
        return None
    return _host_port(str(host), getattr(config, "port", None))


def _bounded_redis(repo):
    """Give Feast's Redis online store a client with timeouts and no retries (fail fast, name the endpoint)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    online = repo.store.config.online_store
    if repo.online_type != "redis" or str(getattr(online, "redis_type", "redis")).rsplit(".", maxsplit=1)[-1] != "redis":
        return
    provider = repo.store._get_provider()
    online_store = provider.online_store
    nodes, kwargs = online_store._parse_connection_string(online.connection_string)
    kwargs.setdefault("socket_connect_timeout", repo.timeout)
    kwargs.setdefault("socket_timeout", repo.timeout)
    kwargs["retry"] = Retry(NoBackoff(), 0)
    kwargs["host"] = nodes[0]["host"]
    kwargs["port"] = int(nodes[0]["port"])
    # Feast caches its client in _client and builds one only when it is unset.
    online_store._client = redis.Redis(**kwargs)


def load_contents(path, project):
    """Import the repository's Python files (like ``feast apply``) and return its definitions."""
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_bytecode = sys.dont_write_bytecode
    try:
        os.chdir(path)
        sys.path.insert(0, path)
        sys.dont_write_bytecode = True
        contents = parse_repo(_Path(path))
    except FeastError:
        raise
    except Exception as exc:
        raise FeastRepoError("cannot load the definitions: %s: %s" % (type(exc).__name__, exc), host=path,
                             hint="fix the Python files of the feature repository (run 'feast plan' there)")
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
    if not contents.projects:
        contents.projects.append(Project(name=project, description=""))
    elif len(contents.projects) > 1 or contents.projects[0].name != project:
        raise FeastRepoError(
            "the definitions declare project(s) %s but feature_store.yaml says %s"
            % (", ".join(sorted(p.name for p in contents.projects)), project), host=path,
            hint="declare at most one Project, named like 'project' in feature_store.yaml")
    return contents


def _Path(path):
    from pathlib import Path
    return Path(path)


@contextlib.contextmanager
def open_repo(path, env=None, timeout=30, read_only=False):
    """Yield a :class:`FeastRepo` for the feature repository at ``path``.

    ``env`` is set for the whole block. Raises FeastRepoError when
    feature_store.yaml is missing or invalid, FeastRegistryError when the
    registry cannot be opened, FeastTimeoutError when setup exceeds ``timeout``.
    """
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(os.path.join(path, FEATURE_STORE_YAML)):
        raise FeastRepoError("no %s in the feature repository" % FEATURE_STORE_YAML, host=path,
                             hint="set repo_path to the directory that holds feature_store.yaml")
    env = dict(env or {})
    variables = dict(env)
    # Credentials go into URLs quoted: every variable also comes percent-encoded (doc_fragments/feast.py).
    for name, value in env.items():
        if value not in (None, "") and name + "_URLENCODED" not in env:
            variables[name + "_URLENCODED"] = quote(str(value), safe="")
    if "PGCONNECT_TIMEOUT" not in os.environ and "PGCONNECT_TIMEOUT" not in variables:
        variables["PGCONNECT_TIMEOUT"] = str(max(2, int(timeout)))
    secrets = [str(v) for v in env.values() if v not in (None, "")]
    tmpdir = None
    with environment(variables):
        try:
            with deadline(timeout, lambda: FeastTimeoutError(
                    "opening the feature repository did not finish within %s s" % timeout, host=path,
                    component="feast", hint="check that the registry database answers, or raise timeout")):
                with quiet():
                    try:
                        store = FeatureStore(repo_path=path)
                    except Exception as exc:
                        raise FeastRepoError("cannot load %s: %s" % (FEATURE_STORE_YAML, redact(exc, secrets)),
                                             host=path, hint="fix feature_store.yaml, and set every variable it "
                                                             "expands through the environment option")
                repo = FeastRepo(path, store, timeout, secrets)
                registry_config = store.config.registry
                with repo.errors("open the registry"):
                    if read_only and registry_config.registry_type == "sql":
                        ro_config = registry_config.model_copy(update=dict(schema_mode="verify"))
                        try:
                            store._registry = ReadOnlySqlRegistry(ro_config, store.config.project, None)
                        except RegistryIncomplete as exc:
                            raise FeastRegistryError(
                                "the registry schema is incomplete: %s. That is a damaged or partly migrated "
                                "registry, not one that was never applied" % exc, host=repo.registry_endpoint,
                                hint="restore the registry database %s from its backup, or recreate the missing "
                                     "tables (feast registry create-schema) and apply the repository again "
                                     "(baremetal.mlops.feast_apply)" % repo.registry_endpoint)
                        except (RegistryNeverApplied, FeastRegistrySchemaError):
                            # Never applied: read an empty throwaway registry instead of creating tables.
                            tmpdir = tempfile.mkdtemp(prefix="feast-registry-")
                            store._registry = Registry(store.config.project, RegistryConfig(
                                registry_type="file", path=os.path.join(tmpdir, "registry.db"), cache_ttl_seconds=0),
                                None)
                            repo.registry_missing = True
                    store.registry.refresh(project=store.config.project)
                with repo.errors("set up the online store client"):
                    _bounded_redis(repo)
            yield repo
        finally:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)


def argument_spec(**options):
    """The options every Feast module takes (doc fragment baremetal.mlops.feast), plus ``options``."""
    spec = dict(
        repo_path=dict(type="path", required=True),
        environment=dict(type="dict", default={}, no_log=True),
        timeout=dict(type="int", default=30),
    )
    spec.update(options)
    return spec
