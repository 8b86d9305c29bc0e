#!/usr/bin/env python3
"""A tracking-platform simulator: Traccar's users API plus a Standard Webhooks receiver.

Faithful to Traccar 6 (org.traccar, read from its source) wherever the dunning
connector depends on it; each behaviour names the Traccar file it follows:

* Authentication (api/security/SecurityRequestFilter.java, LoginService.java):
  ``Authorization: Basic`` (email or login, case-insensitive, and password),
  ``Authorization: Bearer`` with a token of ``POST /api/session/token``
  (api/signature/TokenManager.java: seven days by default, revocable) or the
  server's service-account token (config ``web.serviceAccountToken``: never
  expires, acts as the administrator "Service Account", api/security/
  ServiceAccountUser.java), or the cookie of a session opened by ``POST
  /api/session`` or ``GET /api/session?token=``. Wrong credentials, an expired or
  revoked token, a disabled user or one whose ``expirationTime`` is past
  (model/Disableable.java) answer **401**. A malformed token breaks
  CryptoManager.verify with a Java runtime exception: **400**; a token whose
  signature block is not a valid signature encoding raises a
  GeneralSecurityException: **500**.
* ``GET /api/session`` answers only ``?token=`` or a cookie session
  (api/resource/SessionResource.java): with a Basic or Bearer header and nothing
  else it is **404**, whatever the credentials. ``GET /api/server`` needs no login
  (ServerResource.java, ``@PermitAll``) and carries the server-wide restrictions
  (``readonly``...).
* Errors (api/ResourceErrorHandler.java): any exception but a WebApplicationException
  answers **400** with the Java stack trace as body ("java.lang.SecurityException:
  User access denied\\n\\tat ..."); 401/404/500 carry the WebApplicationException's.
* Permissions (api/security/PermissionsService.java): ``checkPermission`` lets a
  user see itself and the users it manages **directly** (tc_user_user: no
  transitive hierarchy) and an administrator everything, else "User access
  denied" (before the user's existence is looked at: an unknown id is 400 for a
  manager, 404 for an administrator). ``checkUserUpdate``: changing
  ``administrator``/``deviceLimit``/``userLimit`` needs an administrator; changing a
  restriction flag (``readonly``, ``deviceReadonly``, ``disabled``,
  ``limitCommands``, ``disableReports``, ``fixedEmail``) of oneself needs an
  administrator, of another user a manager (``userLimit`` not 0) managing it
  directly; an expiring manager cannot push an expiration past its own.
  ``checkEdit``: a non-administrator on a read-only server or read-only itself gets
  "Write access denied".
* ``PUT /api/users/{id}`` (api/BaseObjectResource.java): Jackson builds a whole
  ``User`` from the body, rejecting an unknown property with **400**
  (UnrecognizedPropertyException: the ObjectMapper of MainModule.java keeps
  FAIL_ON_UNKNOWN_PROPERTIES); every column but the id is then updated: properties
  left out are reset to their Java defaults. The body's id is the one updated.
  ``password`` is write-only (read back as null). An id that does not exist is a
  NullPointerException in checkUserUpdate: 400.
* ``GET /api/users`` (api/resource/UserResource.java): an administrator sees every
  user, anyone else the users it manages directly; ``userId`` lists the users N
  manages (``checkUser``); ``keyword`` matches name or email (case-insensitive
  ``LIKE``); sorted by name; ``limit``/``offset``; ``excludeAttributes``.
* ``POST/DELETE /api/permissions {"userId": manager, "managedUserId": user}``
  links and unlinks.

Differences from Traccar (what the connector does not depend on):

* Only users, sessions, tokens, server settings and user-user permissions exist:
  no devices, groups, notifications, positions or websocket.
* Tokens are signed with HMAC-SHA256 in a DER-like block instead of ECDSA; their
  layout (length byte, signature block, JSON ``{"i", "u", "e"}``, base64url) is
  Traccar's.
* Stack traces are the exception line and one ``at`` frame; no TOTP, LDAP or
  OpenID; ``POST /api/users`` skips the registration defaults; the cookie session's
  origin is not checked.

Webhooks: ``POST /webhook`` verifies the Standard Webhooks headers
(``webhook-id``/``webhook-timestamp``/``webhook-signature``) with ``verify`` of the
project's one implementation, ``dunning_ruler/tools/webhook.py``, answers 400 when
they are missing and 401 on a stale timestamp or a bad signature; a repeated
``webhook-id`` is acknowledged but not applied twice.

Fault injection (tests call the methods, a standalone run uses ``POST /_sim/faults``):
``fail_next(status, count)``, ``delay`` seconds before answering, ``down`` (the
connection is closed without an answer), ``reject_auth`` (every request gets 401).

A test and demo tool, not part of the addon's runtime (Odoo imports an addon's
``tests`` only to run them). Inside Odoo (tests, ``setup/bench.py``) import
``TrackingSimulator`` from ``odoo.addons.dunning_ruler_access.tests.simulator``.
Standalone, as ``setup/run`` starts it (the standard library is enough):
``python dunning_ruler_access/tests/simulator/server.py --port 8329 --seed demo``
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import importlib.util
import json
import logging
import re
import secrets
import threading
import time
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

_logger = logging.getLogger(__name__)
UTC = timezone.utc


def _load_webhook_module():
    """dunning_ruler's Standard Webhooks module (``sign``, ``verify``...).

    Inside Odoo it is ``odoo.addons.dunning_ruler.tools.webhook``. A standalone
    simulator has no Odoo addons path: the module (standard library only) is then
    loaded from its file, next to this addon in the addons directory."""
    try:
        from odoo.addons.dunning_ruler.tools import webhook
    except ImportError:
        path = Path(__file__).resolve().parents[3] / "dunning_ruler" / "tools" / "webhook.py"
        spec = importlib.util.spec_from_file_location("dunning_ruler_tools_webhook", path)
        webhook = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(webhook)
    return webhook


webhook = _load_webhook_module()

# model/User.java (Traccar 6), with the Java default of each property.
USER_DEFAULTS = {
    "id": 0,
    "name": None,
    "login": None,
    "email": None,
    "phone": None,
    "readonly": False,
    "administrator": False,
    "map": None,
    "latitude": 0.0,
    "longitude": 0.0,
    "zoom": 0,
    "coordinateFormat": None,
    "disabled": False,
    "expirationTime": None,
    "deviceLimit": 0,
    "userLimit": 0,
    "deviceReadonly": False,
    "limitCommands": False,
    "disableReports": False,
    "fixedEmail": False,
    "poiLayer": None,
    "totpKey": None,
    "temporary": False,
    "attributes": {},
}
BOOLEANS = {key for key, value in USER_DEFAULTS.items() if isinstance(value, bool)}
INTEGERS = {"id", "zoom", "deviceLimit", "userLimit"}
# Properties Jackson accepts on a User besides the columns: the write-only password,
# and those ignored by @JsonIgnore getters (hashedPassword, salt, manager).
WRITE_ONLY = {"password", "hashedPassword", "salt", "manager"}
# PermissionsService.checkUserUpdate: only an administrator changes these.
ADMIN_ONLY = ("administrator", "deviceLimit", "userLimit")
# ... and these, on oneself; on another user, a manager managing it directly.
RESTRICTIONS = ("readonly", "deviceReadonly", "disabled", "limitCommands", "disableReports", "fixedEmail")
# model/Server.java, the part a client reads.
SERVER_DEFAULTS = {
    "id": 1,
    "registration": False,
    "readonly": False,
    "deviceReadonly": False,
    "limitCommands": False,
    "disableReports": False,
    "fixedEmail": False,
    "map": None,
    "latitude": 0.0,
    "longitude": 0.0,
    "zoom": 0,
    "forceSettings": False,
    "coordinateFormat": None,
    "poiLayer": None,
    "announcement": None,
    "attributes": {},
}
SERVICE_ACCOUNT_ID = 9000000000000000000  # api/security/ServiceAccountUser.java
TOKEN_DAYS = 7  # api/signature/TokenManager.java DEFAULT_EXPIRATION_DAYS

DEMO_USERS = [
    # (id, name, email, extra) — ids are the external references of the demo bindings.
    (11, "Andes Fleet Services", "andes@fleet.example.com", {}),
    (12, "Pampa Transportes", "pampa@fleet.example.com", {"userLimit": 5}),
    (13, "Rio Cargo Logistica", "rio@fleet.example.com", {}),
    (14, "Atlantic Couriers", "atlantic@fleet.example.com", {"readonly": True}),
    (15, "Sierra Buses", "sierra@fleet.example.com", {"userLimit": 10}),
    (16, "Litoral Rent a Car", "litoral@fleet.example.com", {}),
    (17, "Patagonia Delivery", "patagonia@fleet.example.com", {}),
    (151, "Sierra Buses - dispatch", "dispatch@sierra.example.com", {}),
    (152, "Sierra Buses - garage", "garage@sierra.example.com", {"deviceReadonly": True}),
]
DEMO_PERMISSIONS = [(15, 151), (15, 152)]


def format_date(value):
    """A java.util.Date as Traccar's ObjectMapper writes it (ISO 8601, UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a naive datetime is UTC, as Odoo's
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def parse_date(value):
    """A date as Jackson reads one: ISO 8601 text or milliseconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise JavaError("com.fasterxml.jackson.databind.exc.MismatchedInputException", "Date expected")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise JavaError(
            "com.fasterxml.jackson.databind.exc.InvalidFormatException",
            f'Cannot deserialize value of type `java.util.Date` from String "{value}"',
        ) from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _now():
    return datetime.now(UTC)


def _decode_base64(text):
    """org.apache.commons.codec.binary.Base64.decodeBase64: both alphabets, no
    padding needed, characters outside the alphabet skipped."""
    cleaned = re.sub(r"[^A-Za-z0-9+/\-_]", "", text or "").replace("-", "+").replace("_", "/")
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4 if len(cleaned) % 4 == 1 else len(cleaned)]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


class JavaError(Exception):
    """A Java exception as Traccar's ResourceErrorHandler renders it."""

    def __init__(self, java_class, message, status=400, frame="org.traccar.api.BaseObjectResource"):
        super().__init__(message)
        self.java_class = java_class
        self.status = status
        self.frame = frame

    def body(self):
        return f"{self.java_class}: {self}\n\tat {self.frame}"


def security_error(message, frame="org.traccar.api.security.PermissionsService"):
    return JavaError("java.lang.SecurityException", message, frame=frame)


class Unauthorized(Exception):
    """LoginService refused: the filter answers 401."""


class SimulatorDown(Exception):
    pass


class TrackingSimulator:
    """The platform's state, and an HTTP server on 127.0.0.1 serving it from a thread.

    :param token: the server's service-account token (``web.serviceAccountToken``),
        a Bearer token that never expires and acts as an administrator
    """

    def __init__(self, admin_email="admin", admin_password="admin", token=None, webhook_secret=None):
        self.lock = threading.RLock()
        self.users = {}
        self.passwords = {}
        self.service_account_token = token
        self.signing_key = secrets.token_bytes(32)
        self.revoked = set()  # ids of revoked tokens
        self.sessions = {}  # cookie -> (user id, expiration or None)
        self.managed = set()  # (manager id, managed user id): tc_user_user
        self.server_settings = deepcopy(SERVER_DEFAULTS)
        self.next_id = 1000
        self.webhook_secret = webhook_secret
        self.webhooks = []  # verified deliveries, in order
        self.webhook_ids = set()
        self.requests = []  # (method, path, status) log of every answered request
        self.faults = []  # pending forced statuses
        self.delay = 0.0
        self.down = False
        self.reject_auth = False
        self.retry_after = 1  # seconds announced with injected 429s
        self.admin = self.add_user(admin_email, admin_password, administrator=True, name="Administrator")
        self.server = None
        self.thread = None

    # ------------------------------------------------------------------ state
    def add_user(self, email, password="secret", user_id=None, **values):
        with self.lock:
            if user_id is None:
                user_id = self.next_id
                self.next_id += 1
            user = dict(deepcopy(USER_DEFAULTS), **values, id=user_id, email=email)
            if isinstance(user["expirationTime"], datetime):
                user["expirationTime"] = format_date(user["expirationTime"])
            self.users[user_id] = user
            self.passwords[user_id] = password
            return user

    def link(self, manager_id, user_id):
        with self.lock:
            self.managed.add((manager_id, user_id))

    def seed_demo(self):
        for user_id, name, email, extra in DEMO_USERS:
            self.add_user(email, "demo", user_id=user_id, name=name, **extra)
        for manager_id, user_id in DEMO_PERMISSIONS:
            self.link(manager_id, user_id)

    def issue_token(self, user_id, expiration=None):
        """A token as ``POST /api/session/token`` makes it (TokenManager.generateToken):
        base64url of [length of the signature block][signature block][JSON {i, u, e}];
        seven days unless ``expiration`` (a datetime) says otherwise."""
        if expiration is None:
            expiration = _now() + timedelta(days=TOKEN_DAYS)
        data = json.dumps(
            {"i": secrets.randbits(63), "u": user_id, "e": format_date(expiration)}, separators=(",", ":")
        ).encode()
        digest = hmac.new(self.signing_key, data, hashlib.sha256).digest()
        block = b"\x30" + bytes([len(digest)]) + digest  # a DER SEQUENCE header, as ECDSA's
        return base64.urlsafe_b64encode(bytes([len(block)]) + block + data).decode().rstrip("=")

    def revoke_token(self, token):
        with self.lock:
            self.revoked.add(self.decode_token(token)["i"])

    def decode_token(self, token):
        """CryptoManager.verify then the JSON: Java runtime exceptions (400) for a
        token that is not one, a GeneralSecurityException (500) for a signature block
        that is not a signature, Unauthorized for a wrong signature."""
        data = _decode_base64(token)
        frame = "org.traccar.api.signature.CryptoManager.verify"
        if not data:
            raise JavaError(
                "java.lang.ArrayIndexOutOfBoundsException", "Index 0 out of bounds for length 0", frame=frame
            )
        length = data[0] - 256 if data[0] > 127 else data[0]
        if len(data) - 1 - length < 0:
            raise JavaError("java.lang.NegativeArraySizeException", str(len(data) - 1 - length), frame=frame)
        if length < 0:
            raise JavaError(
                "java.lang.ArrayIndexOutOfBoundsException",
                f"arraycopy: source index {1 + length} out of bounds for byte[{len(data)}]",
                frame=frame,
            )
        block, payload = data[1 : 1 + length], data[1 + length :]
        if length < 8 or block[0] != 0x30 or block[1] != length - 2:
            raise JavaError(
                "java.security.SignatureException", "Invalid encoding for signature", status=500, frame=frame
            )
        digest = hmac.new(self.signing_key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(block[2:], digest):
            raise Unauthorized("Invalid signature")
        try:
            token_data = json.loads(payload)
            token_data["e"] = parse_date(token_data["e"])
        except (ValueError, KeyError, TypeError, JavaError) as e:
            raise JavaError("java.io.IOException", str(e), status=500, frame=frame) from e
        return token_data

    def fail_next(self, status=500, count=1):
        with self.lock:
            self.faults.extend([status] * count)

    def reset_faults(self):
        with self.lock:
            self.faults.clear()
            self.delay = 0.0
            self.down = False
            self.reject_auth = False

    def public(self, user):
        """A User as Jackson writes it: ``password`` is a property, always null."""
        return dict(deepcopy(user), password=None)

    def get_user(self, user_id):
        """PermissionsService.getUser: the service account is an administrator."""
        if user_id == SERVICE_ACCOUNT_ID and self.service_account_token:
            return dict(
                deepcopy(USER_DEFAULTS),
                id=SERVICE_ACCOUNT_ID,
                name="Service Account",
                email="none",
                administrator=True,
            )
        return self.users.get(user_id)

    @staticmethod
    def check_enabled(user):
        """Disableable.checkDisabled: disabled, or past its expirationTime."""
        if user is None:
            raise Unauthorized("Unknown account")
        if user["disabled"]:
            raise Unauthorized("User is disabled")
        expiration = parse_date(user.get("expirationTime"))
        if expiration is not None and _now() > expiration:
            raise Unauthorized("User has expired")

    # ------------------------------------------------------------------ server
    def start(self, port=0, host="127.0.0.1"):
        simulator = self

        class Handler(_Handler):
            sim = simulator

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="tracking-simulator", daemon=True
        )
        self.thread.start()
        return self

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class _Handler(BaseHTTPRequestHandler):
    sim = None
    protocol_version = "HTTP/1.1"
    server_version = "TrackingSimulator/1.0"

    def log_message(self, fmt, *args):
        _logger.debug("simulator: " + fmt, *args)

    # ------------------------------------------------------------------ plumbing
    def _send(self, status, body=None, content_type="application/json", headers=None):
        if body is None:
            data = b""
        elif isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        else:
            data = str(body).encode()
            content_type = "text/plain"
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with self.sim.lock:
            self.sim.requests.append((self.command, self.path, status))

    def _web_error(self, status, reason, headers=None):
        """A WebApplicationException through ResourceErrorHandler: its status, the
        stack trace as body."""
        return self._send(
            status,
            f"jakarta.ws.rs.WebApplicationException: HTTP {status} {reason}\n\tat org.traccar.api",
            headers=headers,
        )

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _cookie_session(self):
        cookie = self.headers.get("Cookie") or ""
        match = re.search(r"JSESSIONID=([\w-]+)", cookie)
        return match.group(1) if match else None

    def _login_token(self, token):
        """LoginService.login(token): the service account, or a token's user."""
        sim = self.sim
        if sim.service_account_token and hmac.compare_digest(
            sim.service_account_token.encode(), (token or "").encode()
        ):
            return SERVICE_ACCOUNT_ID, None
        data = sim.decode_token(token)
        if data["e"] < _now():
            raise Unauthorized("Token has expired")
        if data["i"] in sim.revoked:
            raise Unauthorized("Token has been revoked")
        user = sim.users.get(data["u"])
        sim.check_enabled(user)
        return user["id"], data["e"]

    def _login_password(self, login, password):
        """LoginService.login(email, password): LOWER(email) or LOWER(login)."""
        sim = self.sim
        wanted = (login or "").strip().lower()
        user = next(
            (
                u
                for uid, u in sorted(sim.users.items())
                if wanted in ((u["email"] or "").lower(), (u["login"] or "").lower())
            ),
            None,
        )
        if user is None or not hmac.compare_digest(sim.passwords[user["id"]], password or ""):
            return None
        sim.check_enabled(user)
        return user["id"]

    def _authenticate(self):
        """SecurityRequestFilter: (user id or None, token expiration). Raises
        JavaError for what escapes it as an exception (400, 500)."""
        sim = self.sim
        header = self.headers.get("Authorization")
        if sim.reject_auth:
            return None, None
        with sim.lock:
            try:
                if header is not None:
                    parts = header.split(" ")
                    while parts and not parts[-1]:
                        parts.pop()  # Java's String.split drops trailing empty strings
                    if len(parts) < 2:
                        raise JavaError(
                            "java.lang.ArrayIndexOutOfBoundsException",
                            f"Index 1 out of bounds for length {len(parts)}",
                            frame="org.traccar.api.security.SecurityRequestFilter.filter",
                        )
                    scheme, credentials = parts[0].lower(), parts[1]
                    if scheme == "bearer":
                        return self._login_token(credentials)
                    if scheme == "basic":
                        auth = _decode_base64(credentials).decode("ascii", "replace").split(":", 1)
                        if len(auth) < 2:
                            raise JavaError(
                                "java.lang.ArrayIndexOutOfBoundsException",
                                "Index 1 out of bounds for length 1",
                                frame="org.traccar.api.security.LoginService.login",
                            )
                        return self._login_password(auth[0], auth[1]), None
                    raise Unauthorized("Unsupported authorization scheme")
                session = sim.sessions.get(self._cookie_session())
                if session:
                    user_id, expiration = session
                    if expiration is not None and expiration < _now():
                        sim.sessions.pop(self._cookie_session(), None)
                        return None, None
                    sim.check_enabled(sim.get_user(user_id))
                    return user_id, expiration
            except Unauthorized:
                return None, None
        return None, None

    def _handle(self):
        sim = self.sim
        if sim.down:
            # A platform that is down: the connection closes without an answer.
            self.close_connection = True
            self.connection.close()
            return
        if sim.delay:
            time.sleep(sim.delay)
        body = self._body()
        path, _sep, query = self.path.partition("?")
        if path.startswith("/_sim/"):
            return self._control(path, body)
        with sim.lock:
            forced = sim.faults.pop(0) if sim.faults else None
        if forced:
            headers = {"Retry-After": str(sim.retry_after)} if forced == 429 else None
            return self._send(forced, f"Injected failure {forced}", headers=headers)
        if path == "/webhook" and self.command == "POST":
            return self._webhook(body)
        if not path.startswith("/api/"):
            return self._send(404, "Not found")
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            user_id, expiration = self._authenticate()
            if self.command == "GET" and path == "/api/server":
                return self._send(200, deepcopy(sim.server_settings))  # @PermitAll
            if path == "/api/session" and self.command in ("GET", "POST"):
                return self._session(params, body)  # @PermitAll
            if user_id is None:
                headers = None
                if "text/html" in (self.headers.get("Accept") or ""):
                    headers = {"WWW-Authenticate": 'Basic realm="api"'}
                return self._web_error(401, "Unauthorized", headers=headers)
            with sim.lock:
                return self._api(user_id, expiration, path, params, body)
        except JavaError as e:
            return self._send(e.status, e.body())

    do_GET = do_PUT = do_POST = do_DELETE = _handle

    # ------------------------------------------------------------------ Traccar
    def _session(self, params, body):
        """SessionResource: GET with ?token= or a cookie session (else 404), POST with
        the email and password of a form."""
        sim = self.sim
        with sim.lock:
            if self.command == "POST":
                form = dict(parse_qsl(body.decode(errors="replace")))
                try:
                    user_id = self._login_password(form.get("email"), form.get("password"))
                except Unauthorized:
                    user_id = None
                if user_id is None:
                    return self._web_error(401, "Unauthorized")
                return self._open_session(user_id, None)
            if params.get("token") is not None:
                try:
                    user_id, expiration = self._login_token(params["token"])
                except Unauthorized:
                    return self._web_error(401, "Unauthorized")
                except JavaError as e:
                    if e.status == 500:  # GeneralSecurityException is caught there
                        return self._web_error(401, "Unauthorized")
                    raise
                return self._open_session(user_id, expiration)
            session = sim.sessions.get(self._cookie_session())
            if session:
                user = sim.get_user(session[0])
                if user is not None:
                    return self._send(200, sim.public(user))
            return self._web_error(404, "Not Found")

    def _open_session(self, user_id, expiration):
        sim = self.sim
        cookie = secrets.token_hex(16)
        sim.sessions[cookie] = (user_id, expiration)
        headers = {"Set-Cookie": f"JSESSIONID={cookie}; Path=/; HttpOnly"}
        return self._send(200, sim.public(sim.get_user(user_id)), headers=headers)

    def _me(self, user_id):
        return self.sim.get_user(user_id)

    def _check_admin(self, user_id):
        if not self._me(user_id)["administrator"]:
            raise security_error("Administrator access required")

    def _check_manager(self, user_id):
        me = self._me(user_id)
        if not me["administrator"] and me["userLimit"] == 0:
            raise security_error("Manager access required")

    def _check_user(self, user_id, managed_id):
        """PermissionsService.checkUser: oneself, an administrator, or a manager
        managing the user directly."""
        me = self._me(user_id)
        if (
            user_id != managed_id
            and not me["administrator"]
            and (me["userLimit"] == 0 or (user_id, managed_id) not in self.sim.managed)
        ):
            raise security_error("User access denied")

    def _check_permission(self, user_id, target_id):
        """PermissionsService.checkPermission(User.class): administrator, oneself, or a
        direct tc_user_user link (a manager flag is not needed to read)."""
        if self._me(user_id)["administrator"] or user_id == target_id:
            return
        if (user_id, target_id) not in self.sim.managed or target_id not in self.sim.users:
            raise security_error("User access denied")

    def _check_edit(self, user_id, skip_readonly=False):
        """PermissionsService.checkEdit for a user: read-only server or caller."""
        me = self._me(user_id)
        readonly = self.sim.server_settings["readonly"] or me["readonly"]
        if not me["administrator"] and not skip_readonly and readonly:
            raise security_error("Write access denied")

    def _check_user_update(self, user_id, before, after):
        """PermissionsService.checkUserUpdate."""
        if any(before[key] != after[key] for key in ADMIN_ONLY):
            self._check_admin(user_id)
        me = self._me(user_id)
        mine = parse_date(me.get("expirationTime"))
        if mine is not None and before["expirationTime"] != after["expirationTime"]:
            theirs = parse_date(after["expirationTime"])
            if theirs is None or mine < theirs:
                self._check_admin(user_id)
        if any(before[key] != after[key] for key in RESTRICTIONS):
            if user_id == after["id"]:
                self._check_admin(user_id)
            elif after["id"] > 0:
                self._check_user(user_id, after["id"])
            else:
                self._check_manager(user_id)
        if before["fixedEmail"] and before["email"] != after["email"]:
            self._check_admin(user_id)

    @staticmethod
    def _same_user(one, other):
        def strip(user):
            attributes = dict(user.get("attributes") or {})
            attributes.pop("notificationTokens", None)
            attributes.pop("termsAccepted", None)
            return dict(user, attributes=attributes)

        return strip(one) == strip(other)

    def _deserialize(self, body):
        """Jackson: the body as a whole User (absent properties take their Java
        defaults), unknown properties refused."""
        try:
            entity = json.loads(body or b"null")
        except ValueError as e:
            raise JavaError("com.fasterxml.jackson.core.JsonParseException", str(e)) from e
        if not isinstance(entity, dict):
            raise JavaError(
                "com.fasterxml.jackson.databind.exc.MismatchedInputException",
                "Cannot deserialize value of type `org.traccar.model.User`",
            )
        unknown = sorted(set(entity) - set(USER_DEFAULTS) - WRITE_ONLY)
        if unknown:
            raise JavaError(
                "com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException",
                f'Unrecognized field "{unknown[0]}" (class org.traccar.model.User), not marked as ignorable',
            )
        user = deepcopy(USER_DEFAULTS)
        for key, value in entity.items():
            if key in WRITE_ONLY:
                continue
            if value is None and (key in BOOLEANS or key in INTEGERS):
                continue  # a null primitive stays at its default
            if key in BOOLEANS and not isinstance(value, bool):
                raise JavaError(
                    "com.fasterxml.jackson.databind.exc.InvalidFormatException",
                    f"Cannot deserialize value of type `boolean` from {value!r} (property {key})",
                )
            if key in INTEGERS and (isinstance(value, bool) or not isinstance(value, int)):
                raise JavaError(
                    "com.fasterxml.jackson.databind.exc.InvalidFormatException",
                    f"Cannot deserialize value of type `int` from {value!r} (property {key})",
                )
            if key == "expirationTime":
                value = format_date(parse_date(value))
            if key == "attributes":
                value = dict(value or {})
            user[key] = value
        return user, entity.get("password")

    def _api(self, user_id, expiration, path, params, body):
        sim = self.sim
        if path == "/api/session" and self.command == "DELETE":
            sim.sessions.pop(self._cookie_session(), None)
            return self._send(204)
        if path == "/api/session/token" and self.command == "POST":
            form = dict(parse_qsl(body.decode(errors="replace")))
            wanted = parse_date(form["expiration"]) if form.get("expiration") else None
            if expiration is not None and wanted is not None and expiration < wanted:
                wanted = expiration  # never outlives the session that asked
            return self._send(200, sim.issue_token(user_id, wanted))
        if path == "/api/session/token/revoke" and self.command == "POST":
            form = dict(parse_qsl(body.decode(errors="replace")))
            sim.revoke_token(form.get("token"))
            return self._send(204)
        match = re.fullmatch(r"/api/users/(\d+)", path)
        if match:
            return self._api_user(user_id, int(match.group(1)), body)
        if path == "/api/users":
            return self._api_users(user_id, params, body)
        if path == "/api/permissions" and self.command in ("POST", "DELETE"):
            return self._api_permissions(user_id, body)
        return self._web_error(404, "Not Found")

    def _api_user(self, user_id, target_id, body):
        """/api/users/<id>: GET, PUT, DELETE (BaseObjectResource, UserResource)."""
        sim = self.sim
        if self.command == "GET":
            self._check_permission(user_id, target_id)
            user = sim.users.get(target_id)
            if user is None:
                return self._send(404)
            return self._send(200, sim.public(user))
        if self.command == "PUT":
            after, password = self._deserialize(body)
            self._check_permission(user_id, after["id"])
            before = sim.users.get(after["id"])
            if before is None:
                raise JavaError(
                    "java.lang.NullPointerException",
                    'Cannot invoke "org.traccar.model.User.getAdministrator()" because "before" is null',
                    frame="org.traccar.api.security.PermissionsService.checkUserUpdate",
                )
            self._check_user_update(user_id, before, after)
            me = self._me(user_id)
            # User.compare(after, "notificationTokens", "termsAccepted"): a read-only
            # user may still save its own notification tokens.
            skip_readonly = self._same_user(me, after)
            self._check_edit(user_id, skip_readonly)
            sim.users[after["id"]] = after
            if password:
                sim.passwords[after["id"]] = password
            return self._send(200, sim.public(after))
        if self.command == "DELETE":
            self._check_permission(user_id, target_id)
            self._check_edit(user_id)
            sim.users.pop(target_id, None)
            return self._send(204)
        return self._web_error(405, "Method Not Allowed")

    def _api_users(self, user_id, params, body):
        """/api/users: GET (list), POST (create) (UserResource)."""
        sim = self.sim
        me = self._me(user_id)
        if self.command == "GET":
            try:
                owner = int(params.get("userId") or 0)
                limit = int(params.get("limit") or 0)
                offset = int(params.get("offset") or 0)
            except ValueError:
                return self._web_error(404, "Not Found")  # a @QueryParam that does not convert
            if owner > 0:
                self._check_user(user_id, owner)
                ids = [u for m, u in sim.managed if m == owner]
            elif not me["administrator"]:
                ids = [u for m, u in sim.managed if m == user_id]
            else:
                ids = list(sim.users)
            users = [sim.public(sim.users[i]) for i in set(ids) if i in sim.users]
            keyword = (params.get("keyword") or "").lower()
            if keyword:
                users = [u for u in users if keyword in f"{u['name'] or ''}\n{u['email'] or ''}".lower()]
            users.sort(key=lambda u: (u["name"] or "", u["id"]))
            users = users[offset : offset + limit] if limit else users[offset:]
            if params.get("excludeAttributes") == "true":
                for user in users:
                    user["attributes"] = {}
            return self._send(200, users)
        if self.command == "POST":
            user, password = self._deserialize(body)
            if not me["administrator"]:
                self._check_user_update(user_id, deepcopy(USER_DEFAULTS), user)
                frame = "org.traccar.api.resource.UserResource"
                count = len([1 for m, _u in sim.managed if m == user_id])
                if me["userLimit"] == 0 and not sim.server_settings["registration"]:
                    raise security_error("Registration disabled", frame=frame)
                if me["userLimit"] > 0 and count >= me["userLimit"]:
                    raise security_error("Manager user limit reached", frame=frame)
            values = {k: v for k, v in user.items() if k not in ("id", "email")}
            created = sim.add_user(user["email"], password or "", **values)
            if me["userLimit"] != 0 and not me["administrator"]:
                sim.link(user_id, created["id"])
            return self._send(200, sim.public(created))
        return self._web_error(405, "Method Not Allowed")

    def _api_permissions(self, user_id, body):
        """/api/permissions: POST (link), DELETE (unlink) (PermissionsResource)."""
        sim = self.sim
        link = json.loads(body or b"null")
        if not isinstance(link, dict) or "userId" not in link or "managedUserId" not in link:
            raise JavaError("java.lang.IllegalArgumentException", "Permission object expected")
        me = self._me(user_id)
        if not me["administrator"]:
            if me["readonly"] or sim.server_settings["readonly"]:
                raise security_error("Operation restricted")
            self._check_permission(user_id, int(link["userId"]))
            self._check_permission(user_id, int(link["managedUserId"]))
        pair = (int(link["userId"]), int(link["managedUserId"]))
        if self.command == "POST":
            sim.managed.add(pair)
        else:
            sim.managed.discard(pair)
        return self._send(204)

    # ------------------------------------------------------------------ webhooks
    def _webhook(self, body):
        sim = self.sim
        msg_id = self.headers.get("webhook-id")
        if not (sim.webhook_secret and msg_id and self.headers.get("webhook-signature")):
            return self._send(400, "Missing webhook headers")
        try:
            payload = webhook.verify(sim.webhook_secret, body, dict(self.headers.items()))
        except webhook.WebhookVerificationError as e:
            return self._send(401, f"Invalid webhook: {e}")
        with sim.lock:
            if msg_id not in sim.webhook_ids:
                sim.webhook_ids.add(msg_id)
                sim.webhooks.append({"id": msg_id, "payload": payload})
        return self._send(204)

    # ------------------------------------------------------------------ control
    def _control(self, path, body):
        sim = self.sim
        data = json.loads(body or b"{}")
        with sim.lock:
            if path == "/_sim/faults":
                if data.get("reset"):
                    sim.reset_faults()
                sim.faults.extend([int(data.get("status", 500))] * int(data.get("count", 0)))
                sim.delay = float(data.get("delay", sim.delay))
                sim.down = bool(data.get("down", sim.down))
                sim.reject_auth = bool(data.get("reject_auth", sim.reject_auth))
                return self._send(200, {"faults": sim.faults, "delay": sim.delay, "down": sim.down})
            if path == "/_sim/state":
                return self._send(
                    200,
                    {
                        "server": sim.server_settings,
                        "users": list(sim.users.values()),
                        "managed": sorted(sim.managed),
                        "webhooks": sim.webhooks,
                    },
                )
            if path == "/_sim/token":
                # A user's token, as the user would get it from POST /api/session/token.
                expiration = parse_date(data["expiration"]) if data.get("expiration") else None
                return self._send(200, {"token": sim.issue_token(int(data["userId"]), expiration)})
        return self._send(404)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8329)
    parser.add_argument("--admin-email", default="admin")
    parser.add_argument("--admin-password", default="admin")
    parser.add_argument(
        "--token", default="demo-traccar-token", help="service-account token (web.serviceAccountToken)"
    )
    parser.add_argument("--webhook-secret", default="whsec_ZGVtby13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5")
    parser.add_argument("--seed", choices=["none", "demo"], default="demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sim = TrackingSimulator(args.admin_email, args.admin_password, args.token, args.webhook_secret)
    if args.seed == "demo":
        sim.seed_demo()
    sim.start(args.port, args.host)
    _logger.info("tracking simulator listening on http://%s:%s", args.host, sim.port)
    try:
        sim.thread.join()
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
