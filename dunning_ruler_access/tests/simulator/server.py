#!/usr/bin/env python3
"""A tracking-platform simulator: Traccar's users API plus a Standard Webhooks receiver.

Faithful to Traccar (org.traccar.api) where the dunning connector depends on it:

* Authentication per request with HTTP Basic (email or login + password) or
  ``Authorization: Bearer <token>``; missing or wrong credentials, or a disabled
  account, answer 401 (SecurityRequestFilter).
* ``GET /api/users/{id}``: 404 when the user does not exist (BaseObjectResource).
  Permission failures raise SecurityException, which ResourceErrorHandler maps to
  **400** with the exception text as body (not 403).
* ``PUT /api/users/{id}`` deserialises the body into a whole ``User`` and updates every
  column but the id and the password hash: fields left out are reset to their Java
  defaults (false, 0, null). The id of the body is the one updated, as in Traccar.
  ``password`` is write-only and never returned.
* ``GET /api/users?userId=N`` lists the users managed by N; ``POST/DELETE
  /api/permissions {"userId": manager, "managedUserId": user}`` links and unlinks.
* ``GET /api/session`` returns the authenticated user (404 without credentials).

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
import hmac
import importlib.util
import json
import logging
import re
import threading
import time
from copy import deepcopy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_logger = logging.getLogger(__name__)


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
# Only an administrator may change these on another user (PermissionsService.checkUserUpdate).
ADMIN_ONLY = ("administrator", "deviceLimit", "userLimit")

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


class SimulatorDown(Exception):
    pass


class TrackingSimulator:
    """The platform's state, and an HTTP server on 127.0.0.1 serving it from a thread."""

    def __init__(self, admin_email="admin", admin_password="admin", token=None, webhook_secret=None):
        self.lock = threading.RLock()
        self.users = {}
        self.passwords = {}
        self.tokens = {}
        self.managed = set()  # (manager id, managed user id)
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
        if token:
            self.tokens[token] = self.admin["id"]
        self.server = None
        self.thread = None

    # ------------------------------------------------------------------ state
    def add_user(self, email, password="secret", user_id=None, **values):
        with self.lock:
            if user_id is None:
                user_id = self.next_id
                self.next_id += 1
            user = dict(deepcopy(USER_DEFAULTS), **values, id=user_id, email=email)
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
        return deepcopy(user)  # the password is never part of the stored user

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

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticate(self):
        """The id of the authenticated user, or None."""
        header = self.headers.get("Authorization") or ""
        sim = self.sim
        if sim.reject_auth:
            return None
        with sim.lock:
            if header.startswith("Bearer "):
                user_id = sim.tokens.get(header[7:].strip())
            elif header.startswith("Basic "):
                try:
                    login, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    return None
                user_id = next(
                    (
                        uid
                        for uid, user in sim.users.items()
                        if login in (user["email"], user["login"])
                        and hmac.compare_digest(sim.passwords[uid], password)
                    ),
                    None,
                )
            else:
                return None
            user = sim.users.get(user_id)
            if not user or user["disabled"]:
                return None
            return user_id

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
        user_id = self._authenticate()
        if user_id is None:
            if path == "/api/session" and self.command == "GET":
                return self._send(404)
            return self._send(401, "HTTP 401 Unauthorized", headers={"WWW-Authenticate": 'Basic realm="api"'})
        try:
            return self._api(user_id, path, query, body)
        except SecurityError as e:
            # ResourceErrorHandler: any non-web exception answers 400 with its text.
            return self._send(400, f"SecurityException: {e}")
        except ValueError as e:
            return self._send(400, f"JsonParseException: {e}")

    do_GET = do_PUT = do_POST = do_DELETE = _handle

    # ------------------------------------------------------------------ Traccar
    def _is_admin(self, user_id):
        return self.sim.users[user_id]["administrator"]

    def _check_permission(self, user_id, target_id):
        """PermissionsService.checkPermission for users: admin, self or manager of target."""
        if self._is_admin(user_id) or user_id == target_id or (user_id, target_id) in self.sim.managed:
            return
        raise SecurityError("User access denied")

    def _api(self, user_id, path, query, body):
        sim = self.sim
        params = dict(part.partition("=")[::2] for part in query.split("&") if part)
        if path == "/api/session" and self.command == "GET":
            return self._send(200, sim.public(sim.users[user_id]))
        match = re.fullmatch(r"/api/users/(\d+)", path)
        if match:
            return self._api_user(user_id, int(match.group(1)), body)
        if path == "/api/users":
            return self._api_users(user_id, params, body)
        if path == "/api/permissions" and self.command in ("POST", "DELETE"):
            return self._api_permissions(user_id, body)
        return self._send(404)

    def _api_user(self, user_id, target_id, body):
        """/api/users/<id>: GET, PUT, DELETE."""
        sim = self.sim
        with sim.lock:
            if self.command == "GET":
                self._check_permission(user_id, target_id)
                user = sim.users.get(target_id)
                if user is None:
                    return self._send(404)
                return self._send(200, sim.public(user))
            if self.command == "PUT":
                entity = json.loads(body or b"null")
                if not isinstance(entity, dict):
                    raise ValueError("User object expected")
                entity_id = int(entity.get("id") or 0)
                self._check_permission(user_id, entity_id)
                before = sim.users.get(entity_id)
                # Jackson builds a whole User: absent properties take their defaults.
                after = deepcopy(USER_DEFAULTS)
                after.update({k: v for k, v in entity.items() if k in USER_DEFAULTS})
                after["id"] = entity_id
                if not self._is_admin(user_id):
                    reference = before or USER_DEFAULTS
                    for key in ADMIN_ONLY:
                        if after[key] != reference[key]:
                            raise SecurityError("Administrator access required")
                if before is not None:  # updateObject on a missing id changes no row
                    sim.users[entity_id] = after
                    if entity.get("password"):
                        sim.passwords[entity_id] = entity["password"]
                return self._send(200, sim.public(after))
            if self.command == "DELETE":
                self._check_permission(user_id, target_id)
                sim.users.pop(target_id, None)
                return self._send(204)
        return self._send(404)

    def _api_users(self, user_id, params, body):
        """/api/users: GET (list), POST (create)."""
        sim = self.sim
        with sim.lock:
            if self.command == "GET":
                owner = int(params.get("userId") or 0)
                if owner:
                    self._check_permission(user_id, owner)
                    ids = [u for m, u in sim.managed if m == owner]
                elif self._is_admin(user_id):
                    ids = list(sim.users)
                else:
                    ids = [u for m, u in sim.managed if m == user_id]
                users = sorted(
                    (sim.public(sim.users[i]) for i in ids if i in sim.users),
                    key=lambda u: u["name"] or "",
                )
                return self._send(200, users)
            if self.command == "POST":
                entity = json.loads(body or b"null")
                if not isinstance(entity, dict):
                    raise ValueError("User object expected")
                if not self._is_admin(user_id) and not sim.users[user_id]["userLimit"]:
                    raise SecurityError("Manager access required")
                values = {k: v for k, v in entity.items() if k in USER_DEFAULTS and k not in ("id", "email")}
                user = sim.add_user(entity.get("email"), entity.get("password") or "", **values)
                if not self._is_admin(user_id):
                    sim.link(user_id, user["id"])
                return self._send(200, sim.public(user))
        return self._send(404)

    def _api_permissions(self, user_id, body):
        """/api/permissions: POST (link), DELETE (unlink)."""
        sim = self.sim
        link = json.loads(body or b"null")
        if not isinstance(link, dict) or "userId" not in link or "managedUserId" not in link:
            raise ValueError("Permission object expected")
        with sim.lock:
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
                        "users": list(sim.users.values()),
                        "managed": sorted(sim.managed),
                        "webhooks": sim.webhooks,
                    },
                )
        return self._send(404)


class SecurityError(Exception):
    pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8329)
    parser.add_argument("--admin-email", default="admin")
    parser.add_argument("--admin-password", default="admin")
    parser.add_argument("--token", default="demo-traccar-token", help="bearer token of the administrator")
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
