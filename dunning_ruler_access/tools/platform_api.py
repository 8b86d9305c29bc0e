"""The seam between the access models and the platforms: one adapter class per kind.

Like Odoo's SMS providers (``sms.tools.sms_api``) or payment providers, the generic
models (``dunning.access.platform``, ``.binding``, ``.call``) never know which platform
they talk to: ``dunning.access.platform._get_platform_api_class()`` returns the
:class:`PlatformApi` subclass registered for the platform's ``kind`` and every
platform-specific decision (which requests, which settings are valid, what to remember
before restricting) lives in that class.

Adding a platform ``foo``: one file defining ``class FooApi(PlatformApi)`` with
``kind = "foo"`` (defining the class registers it), imported by the addon's
``tools/__init__.py``, plus the selection value: ``("foo", "Foo")`` in the list of
``dunning.access.platform.kind``, or ``selection_add`` (with its ``ondelete``) from
another addon. To serve an existing kind by another class in one database, override
``_get_platform_api_class()`` and call ``super()``.

Two sides, because ``process_outbox`` sends in a thread pool:

* the class methods :meth:`PlatformApi._get_conf` and :meth:`PlatformApi._check_platform`
  get the platform record and run in the main thread (ORM allowed);
* instance methods run in the worker threads: no ORM, no ``env``, only ``self.conf``
  (a plain dict) and HTTP. They never raise for a platform's answer: they return a
  result dict, ``{"ok": True, ...}`` or the failure of :meth:`PlatformApi._failure`
  (``status``: the HTTP status or None, ``retry``: worth retrying later, ``error``,
  ``response``: the start of the answer's body, ``retry_after``: seconds or None),
  which ``dunning.access.call._record_result`` writes back.
"""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import ClassVar

import requests

from odoo.addons.dunning_ruler.tools.redact import redact, redact_url

RESPONSE_LIMIT = 2000
#: a platform's answer longer than this is refused (never read whole into memory)
MAX_RESPONSE_BYTES = 1024 * 1024
#: a Retry-After beyond this (seconds) is read as this; the platform caps it further
MAX_RETRY_AFTER = 7 * 24 * 3600
TARGET_STATES = ("active", "restricted", "blocked")


class PlatformApiError(Exception):
    """A failed exchange: ``status`` (None for network errors) and ``retry``."""

    def __init__(self, message, status=None, retry=False, body="", retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry = retry
        self.body = body
        self.retry_after = retry_after


class PlatformApi:
    """Base adapter of an access platform.

    :param dict conf: the platform's settings, from :meth:`_get_conf`
    """

    #: the ``dunning.access.platform.kind`` value served by the class
    kind = None
    #: the outbox reads each account (:meth:`read_account`) and keeps what
    #: :meth:`merge_snapshot` returns, durably, before it applies a state
    snapshot_before_apply = False

    _registry: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if not kind:
            return  # an intermediate base class, or a subclass of an existing adapter
        registered = PlatformApi._registry.get(kind)
        if registered is not None and registered is not cls:
            raise TypeError(
                f"{cls.__name__}: kind {kind!r} is already served by {registered.__name__}; "
                "override dunning.access.platform._get_platform_api_class() to replace it"
            )
        PlatformApi._registry[kind] = cls

    @classmethod
    def get_api_class(cls, kind):
        """The adapter class registered for ``kind``, or None."""
        return PlatformApi._registry.get(kind)

    @classmethod
    def unregister(cls, kind):
        """Forget the class of ``kind`` (for a test that registered its own)."""
        PlatformApi._registry.pop(kind, None)

    def __init__(self, conf):
        self.conf = conf

    # ------------------------------------------------------------------ main thread
    @classmethod
    def _get_conf(cls, platform):
        """The settings the instance methods need, as a plain dict (``platform`` is
        sudo'ed by the caller: credentials are only read here)."""
        return {
            "kind": platform.kind,
            "name": platform.name,
            "base_url": platform.base_url,
            "timeout": platform.timeout,
            "auth_type": platform.auth_type,
            "username": platform.username,
            "password": platform.password,
            "token": platform.token,
        }

    @classmethod
    def _check_platform(cls, platform):
        """Raise ``odoo.exceptions.ValidationError`` for settings this kind cannot use."""

    # ------------------------------------------------------------------ operations
    def read_account(self, ref):
        """The account ``ref`` as the platform has it: ``{"ok": True, "account": <what
        merge_snapshot and apply_state get back>, "state": "active" | "restricted" |
        "blocked" | None}``."""
        return self._unsupported("reading an account")

    def merge_snapshot(self, snapshot, account, target):
        """The snapshot (a JSON-serialisable dict) to keep before ``target`` is applied
        to ``account``: what unblocking restores. No I/O; the default keeps none."""
        return snapshot

    def apply_state(self, ref, target, snapshot=None, account=None, payload=None, msg_id=None):
        """Bring account ``ref`` to ``target`` (one of :data:`TARGET_STATES`).

        :param dict snapshot: what :meth:`merge_snapshot` kept ({} when nothing)
        :param account: what :meth:`read_account` returned just before, if it was called
        :param dict payload: the call's JSON payload (event, reason, invoices...)
        :param str msg_id: the call's idempotency key
        """
        raise NotImplementedError()

    def test_connection(self):
        """``{"ok": True, "message": str}`` when the platform answers with these
        credentials."""
        raise NotImplementedError()

    def find_account(self, login):
        """The account of an email or login: ``{"ok": True, "ref": str | None, "name": str}``
        (and ``matches``, every account found: ``[{"ref", "name", "email", "login"}]``)."""
        return self._unsupported("finding an account")

    def find_accounts(self, logins):
        """The accounts of many emails or logins at once: ``{"ok": True, "matches":
        {login: [{"ref", "name", "email", "login"}, ...]}}``. The default asks
        :meth:`find_account` for each."""
        matches = {}
        for login in logins:
            found = self.find_account(login)
            if not found["ok"]:
                return found
            matches[login] = found.get("matches") or (
                [{"ref": found["ref"], "name": found["name"], "email": "", "login": login}]
                if found["ref"]
                else []
            )
        return {"ok": True, "matches": matches}

    def check_account(self, ref):
        """Whether account ``ref`` exists: ``{"ok": True, "exists": bool, "name": str,
        "message": str}`` (``message``: what is worth knowing, e.g. why it is not found)."""
        return self._unsupported("checking an account")

    # ------------------------------------------------------------------ HTTP helpers
    def _session(self):
        session = requests.Session()
        session.headers["Accept"] = "application/json"
        if self.conf.get("auth_type") == "token":
            session.headers["Authorization"] = f"Bearer {self.conf.get('token') or ''}"
        else:
            session.auth = (self.conf.get("username") or "", self.conf.get("password") or "")
        return session

    def _request(self, session, method, path, **kwargs):
        """``path``: under the platform's URL, or an absolute URL.

        The answer's body is read up to :data:`MAX_RESPONSE_BYTES` (a longer one is
        refused); its ``json()`` raises :class:`PlatformApiError` (not worth retrying)
        when the body is not JSON."""
        url = path
        if not path.startswith(("http://", "https://")):
            url = self.conf["base_url"].rstrip("/") + path
        else:
            path = redact_url(path)  # the messages below are read by agents
        timeout = self.conf["timeout"]
        try:
            response = session.request(method, url, timeout=timeout, stream=True, **kwargs)
            try:
                body = bytearray()
                for chunk in response.iter_content(chunk_size=65536):
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise PlatformApiError(
                            f"The answer to {method} {path} is larger than {MAX_RESPONSE_BYTES} bytes",
                            status=response.status_code,
                            body=bytes(body[:RESPONSE_LIMIT]).decode(errors="replace"),
                        )
            finally:
                response.close()
            response._content = bytes(body)
            response._content_consumed = True
        except requests.Timeout as e:
            raise PlatformApiError(f"Timeout after {timeout}s on {method} {path}", retry=True) from e
        except requests.RequestException as e:
            raise PlatformApiError(
                f"Platform unreachable ({type(e).__name__}) on {method} {path}", retry=True
            ) from e
        if response.status_code >= 400:
            raise PlatformApiError(
                f"HTTP {response.status_code} on {method} {path}",
                status=response.status_code,
                retry=response.status_code >= 500 or response.status_code == 429,
                body=response.text[:RESPONSE_LIMIT],
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        parse = response.json

        def strict_json(**kwargs):
            try:
                return parse(**kwargs)
            except ValueError as e:
                raise PlatformApiError(
                    f"The answer to {method} {path} is not JSON ({e})",
                    status=response.status_code,
                    body=response.text[:RESPONSE_LIMIT],
                ) from e

        response.json = strict_json
        return response

    @staticmethod
    def _error(error, retry=False, **values):
        """The failure ``error`` (plain words) without an answer of the platform: nothing
        was sent, or what came back cannot be used; ``values`` completes or overrides it."""
        return {
            "ok": False,
            "status": None,
            "retry": retry,
            "error": error,
            "response": "",
            "retry_after": None,
            **values,
        }

    def _failure(self, error):
        """The failure of the exchange that raised ``error`` (a :class:`PlatformApiError`)."""
        return self._error(
            self._redact(str(error)),
            error.retry,
            status=error.status,
            response=self._redact(error.body),
            retry_after=error.retry_after,
        )

    def _redact(self, text):
        """``text`` (an error, the start of an answer: stored on calls that agents read)
        without this platform's credentials nor the secret parts of its URL."""
        secrets = (self.conf.get(key) for key in ("password", "token", "webhook_secret"))
        return redact(text, secrets, self.conf.get("base_url"))

    def _unsupported(self, what):
        return self._error(f"{self.conf.get('kind')} platforms do not support {what}")


def parse_retry_after(value):
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), at most
    :data:`MAX_RETRY_AFTER`; None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER) if len(value) < 12 else MAX_RETRY_AFTER
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return int(min(max(seconds, 0), MAX_RETRY_AFTER))
