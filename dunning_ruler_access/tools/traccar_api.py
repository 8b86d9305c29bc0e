"""Traccar (https://www.traccar.org): restriction flags on the customer's user and on
the users it manages, the block level's flags (``disabled`` by default) to block, and
on unblock only what the connector changed is put back.

Traccar's ``PUT /api/users/{id}`` replaces every column of the user
(api/BaseObjectResource.java) and Jackson refuses a property it does not know (400):
a user is always read first and sent back whole, as read, with only the managed
flags changed.

What Traccar enforces (api/security/PermissionsService.java) and this adapter
follows: an administrator (or the service account of ``web.serviceAccountToken``)
changes anyone; a manager (``userLimit`` not 0) changes the restriction flags only of
the users it manages **directly** (tc_user_user; the users of its users are out of
its reach) and never its own; a read-only caller, or any non-administrator on a
read-only server, gets "Write access denied". Errors come back as HTTP 400 with the
Java exception as body (api/ResourceErrorHandler.java); 401 for wrong credentials,
an expired or revoked token, or a disabled or expired login (LoginService.java); 500
for a token whose signature is not one (api/signature/CryptoManager.java). None of
these gets better by retrying: they are returned with ``retry: False`` and a reason
in plain words.
"""

import base64
import binascii
import json
import re
import threading
from datetime import datetime, timezone

from odoo.exceptions import ValidationError

from .platform_api import PlatformApi, PlatformApiError

DEFAULT_RESTRICT_FLAGS = "limitCommands,readonly,deviceReadonly,disableReports"
DEFAULT_BLOCK_FLAGS = f"{DEFAULT_RESTRICT_FLAGS},disabled"
TRACCAR_FLAGS = {"limitCommands", "readonly", "deviceReadonly", "disableReports", "disabled"}
# api/security/ServiceAccountUser.java: the user of web.serviceAccountToken.
SERVICE_ACCOUNT_ID = 9000000000000000000
# Levels of managers below the customer's user that are followed (sub-users of
# sub-users...), against cycles and runaway hierarchies.
MAX_DEPTH = 5


def parse_flags(text):
    return [flag.strip() for flag in (text or "").split(",") if flag.strip()]


def parse_java_date(value):
    """A java.util.Date as Traccar's ObjectMapper writes it (ISO 8601), or None."""
    if not value:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", str(value).replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def is_expired(user, now=None):
    """Disableable.checkDisabled: a user past its ``expirationTime`` cannot log in."""
    expiration = parse_java_date(user.get("expirationTime"))
    return expiration is not None and (now or datetime.now(timezone.utc)) > expiration


def token_expiration(token):
    """When a token of ``POST /api/session/token`` expires (TokenManager.java: base64url
    of a length byte, the signature, then JSON ``{"i", "u", "e"}``), as an aware
    datetime; None for a token that is not one of those (a service-account token
    never expires)."""
    text = (token or "").strip()
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(data) < 2 or data[0] > 127 or len(data) <= 1 + data[0]:
        return None
    try:
        payload = json.loads(data[1 + data[0] :])
    except ValueError:
        return None
    if not isinstance(payload, dict) or "e" not in payload:
        return None
    return parse_java_date(payload["e"])


def java_exception(body):
    """(exception class, message) of the first line of a Traccar error body."""
    match = re.match(r"\s*([\w.$]+(?:Exception|Error))(?::\s*(.*))?", body or "")
    return (match.group(1), (match.group(2) or "").strip()) if match else (None, "")


class TraccarApi(PlatformApi):
    kind = "traccar"
    snapshot_before_apply = True

    def __init__(self, conf):
        super().__init__(conf)
        self._lock = threading.Lock()
        self._me = None  # the connector's own user, read once per instance
        self._managed = None  # ids it manages directly (non-administrators)

    # ------------------------------------------------------------------ main thread
    @classmethod
    def _get_conf(cls, platform):
        restrict = parse_flags(platform.restrict_flags)
        return dict(
            super()._get_conf(platform),
            include_sub_users=platform.include_sub_users,
            restrict_flags=restrict,
            block_flags=parse_flags(platform.block_flags) or [*restrict, "disabled"],
        )

    @classmethod
    def _check_platform(cls, platform):
        res = super()._check_platform(platform)
        restrict, block = parse_flags(platform.restrict_flags), parse_flags(platform.block_flags)
        unknown = (set(restrict) | set(block)) - TRACCAR_FLAGS
        if unknown or not restrict or not block:
            raise ValidationError(
                platform.env._(
                    "Unknown Traccar flags: %(flags)s. Use %(known)s.",
                    flags=", ".join(sorted(unknown)) or "-",
                    known=DEFAULT_BLOCK_FLAGS,
                )
            )
        if set(restrict) - set(block):
            raise ValidationError(
                platform.env._(
                    "A block includes the restriction: the block flags must contain every "
                    "restriction flag (missing: %s).",
                    ", ".join(sorted(set(restrict) - set(block))),
                )
            )
        return res

    # ------------------------------------------------------------------ flags
    def _flags_for(self, target):
        if target == "blocked":
            return self.conf["block_flags"]
        if target == "restricted":
            return self.conf["restrict_flags"]
        return []

    def _user_state(self, user):
        """blocked: disabled or past its expirationTime (it cannot log in) or every
        block flag set; restricted: every restriction flag set."""
        restrict, block = self.conf["restrict_flags"], self.conf["block_flags"]
        if user.get("disabled") or is_expired(user):
            return "blocked"
        if set(block) - set(restrict) and all(user.get(flag) for flag in block):
            return "blocked"
        return "restricted" if restrict and all(user.get(flag) for flag in restrict) else "active"

    # ------------------------------------------------------------------ failures
    def _traccar_failure(self, error, ref=None):
        """The failure of ``error`` with Traccar's answers classified: what no retry
        can fix gets ``retry: False`` and a reason in plain words."""
        result = self._failure(error)
        status, body = error.status, error.body or ""
        exception, message = java_exception(body)
        token_frames = ("CryptoManager", "TokenManager", "SecurityRequestFilter", "LoginService")
        plain = None
        if status == 401:
            plain = (
                "Traccar refused the credentials (HTTP 401): wrong user or password, a token "
                "that expired (a token made by /api/session/token lasts 7 days unless given an "
                "expiration) or was revoked, or a connector user that is disabled or past its "
                "expiration time."
            )
        elif status == 500 and exception and any(frame in body for frame in token_frames):
            plain = (
                "Traccar could not verify the API token (HTTP 500): the token is corrupted. "
                "Paste it again, or use a service-account token (web.serviceAccountToken)."
            )
        elif status == 400 and exception and any(frame in body for frame in token_frames):
            plain = (
                "Traccar could not read the API token (HTTP 400): it is not a Traccar token. "
                "Paste the whole token again, or use a service-account token (web.serviceAccountToken)."
            )
        elif status == 400 and message == "User access denied":
            plain = (
                f"The connector's Traccar user may not see or change user {ref or '?'}: it does "
                "not exist, or the connector's user is neither an administrator nor a manager "
                "of it (Traccar lets a manager reach only the users it manages directly)."
            )
        elif status == 400 and message == "Administrator access required":
            plain = (
                "Only a Traccar administrator may make this change (a manager cannot change "
                "its own restriction flags, nor any user's limits or administrator right)."
            )
        elif status == 400 and message == "Manager access required":
            plain = "The connector's Traccar user is neither an administrator nor a manager."
        elif status == 400 and message == "Write access denied":
            plain = (
                "Traccar refuses every change by the connector's user: that account is "
                "read-only, or the whole server is read-only."
            )
        elif status == 400 and exception and "UnrecognizedProperty" in exception:
            plain = f"Traccar refused a property it does not know ({message})."
        elif status == 400 and exception and "NullPointerException" in exception:
            plain = f"Traccar user {ref or '?'} does not exist (it was deleted?)."
        elif status == 400:
            plain = "Traccar refused the request (HTTP 400)."
        elif status == 404 and ref:
            plain = f"Traccar user {ref} does not exist (HTTP 404): check the account reference."
        if plain:
            detail = f" [Traccar: {exception}: {message}]" if exception else ""
            result.update(error=plain + detail, retry=False, explained=True)
        return result

    def _refused(self, error):
        return self._error(error, explained=True)

    def _invalid_json(self, error, retry):
        return self._error(f"Invalid JSON from platform: {error}", retry)

    def _exchange(self, steps, ref=None, retry=False):
        """``steps(session)`` in a session of its own: ``(its value, None)``, or ``(None,
        failure)``: a :class:`_Refused` in plain words, Traccar's answer explained
        (:meth:`_traccar_failure`, about user ``ref``), or invalid JSON (worth retrying
        when ``retry``: an answer to a read cut short)."""
        session = self._session()
        try:
            return steps(session), None
        except _Refused as e:
            return None, self._refused(str(e))
        except PlatformApiError as e:
            return None, self._traccar_failure(e, ref)
        except ValueError as e:
            return None, self._invalid_json(e, retry=retry)
        finally:
            session.close()

    # ------------------------------------------------------------------ who we are
    def _whoami(self, session):
        """The connector's own user (SessionResource.java: ``GET /api/session`` only
        answers ``?token=`` or a session, never a Basic or Bearer header: a token is
        given as ``?token=``, a password opens a session with ``POST /api/session``)."""
        with self._lock:
            if self._me is None:
                if self.conf.get("auth_type") == "token":
                    response = self._request(
                        session, "GET", "/api/session", params={"token": self.conf.get("token") or ""}
                    )
                else:
                    response = self._request(
                        session,
                        "POST",
                        "/api/session",
                        data={
                            "email": self.conf.get("username") or "",
                            "password": self.conf.get("password") or "",
                        },
                    )
                self._me = response.json()
            return self._me

    def _managed_ids(self, session):
        """The ids of the users the connector manages directly (``GET /api/users`` of a
        non-administrator, UserResource.java)."""
        with self._lock:
            if self._managed is None:
                self._managed = {user["id"] for user in self._list_users(session)}
            return self._managed

    def _list_users(self, session):
        """Every user the connector's user sees, without their attributes (``GET
        /api/users``: all of them for an administrator, the users it manages directly
        for a manager)."""
        return self._request(session, "GET", "/api/users", params={"excludeAttributes": "true"}).json()

    # ------------------------------------------------------------------ operations
    def read_account(self, ref):
        """The platform user and, when ``include_sub_users``, the users it manages and,
        for those that are managers, theirs (GET only): ``account`` is that list of
        users, the customer's first."""

        def steps(session):
            main = self._request(session, "GET", f"/api/users/{ref}").json()
            if self.conf.get("include_sub_users"):
                return [main, *self._sub_users(session, main)]
            return [main]

        users, failure = self._exchange(steps, ref, retry=True)
        if failure:
            return failure
        main = users[0]
        result = {"ok": True, "account": users, "state": self._user_state(main)}
        if is_expired(main):
            result["expired"] = main.get("expirationTime")
        return result

    def _sub_users(self, session, main):
        """The users ``main`` manages, then those of the managers among them, down to
        MAX_DEPTH levels (``GET /api/users?userId=``)."""
        found, seen = [], {main["id"]}
        level = [main]
        for depth in range(MAX_DEPTH + 1):
            following = []
            for owner in level:
                if owner is not main and not owner.get("userLimit"):
                    continue  # not a manager: manages nobody (User.getManager)
                if depth == MAX_DEPTH:
                    raise _Refused(
                        f"Traccar user {main['id']} has managers more than {MAX_DEPTH} levels deep: "
                        "untick 'Include sub-users' or flatten the hierarchy."
                    )
                try:
                    subs = self._request(session, "GET", "/api/users", params={"userId": owner["id"]}).json()
                except PlatformApiError as e:
                    if owner is main or e.status != 400:
                        raise
                    raise _Refused(
                        f"Traccar user {owner['id']} (managed by {main['id']}) manages users of its own, "
                        "which the connector's user cannot reach: Traccar lets a manager see only the users "
                        "it manages directly. Use an administrator or the service-account token, make the "
                        f"connector's user manage {owner['id']} directly, or untick 'Include sub-users'."
                    ) from e
                for user in sorted(subs, key=lambda u: u.get("id") or 0):
                    if user.get("id") not in seen:
                        seen.add(user["id"])
                        found.append(user)
                        following.append(user)
            level = following
            if not level:
                break
        return found

    def merge_snapshot(self, snapshot, account, target):
        """For each user: ``before``, each flag as it was before the connector set it,
        and ``set``, what the connector sets. A flag whose value is no longer what the
        connector set was changed by someone else in Traccar: its current value is the
        new ``before``. New sub-users are added."""
        if target == "active":
            return snapshot
        merged = json.loads(json.dumps(snapshot))
        for user in account:
            entry = self._entry(merged, user["id"])
            merged[str(user["id"])] = entry
            for flag in self._flags_for(target):
                if flag not in entry["set"] or bool(user.get(flag)) != entry["set"][flag]:
                    entry["before"][flag] = bool(user.get(flag))
                entry["set"][flag] = True
            entry.setdefault("expirationTime", user.get("expirationTime"))
        return merged

    @staticmethod
    def _entry(snapshot, user_id):
        entry = snapshot.get(str(user_id)) or {}
        if "set" not in entry:  # the former layout: {flag: value before}, all flags set
            entry = {"before": dict(entry), "set": dict.fromkeys(entry, True)}
        return entry

    def _target_user(self, user, target, snapshot):
        """The whole user to PUT back for ``target``: what GET returned, with the
        target's flags set and, among the others the connector had set, those still
        as it set them put back as they were. A flag changed in Traccar meanwhile is
        left as it is."""
        entry = self._entry(snapshot or {}, user["id"])
        wanted = self._flags_for(target)
        new = dict(user)
        for flag, value in entry["set"].items():
            if flag not in wanted and flag in TRACCAR_FLAGS and bool(user.get(flag)) == value:
                new[flag] = entry["before"].get(flag, not value)
        for flag in wanted:
            new[flag] = True
        return new

    def _check_reach(self, session, users):
        """A non-administrator connector may change only the users it manages directly,
        never itself (PermissionsService.checkUserUpdate): refuse before any PUT."""
        me = self._whoami(session)
        if me.get("administrator"):
            return
        if not me.get("userLimit"):
            raise _Refused(
                f"The connector's Traccar user {me.get('email') or me.get('id')} is neither an "
                "administrator nor a manager: Traccar lets it change no other user."
            )
        if any(user["id"] == me.get("id") for user in users):
            raise _Refused(
                "The account is the connector's own Traccar user: a manager cannot change its own "
                "restriction flags (only an administrator can)."
            )
        out_of_reach = sorted(user["id"] for user in users if user["id"] not in self._managed_ids(session))
        if out_of_reach:
            raise _Refused(
                f"The connector's Traccar user {me.get('email') or me.get('id')} does not manage "
                f"user(s) {', '.join(map(str, out_of_reach))} directly, and Traccar lets a manager "
                "change only those: make it manage them directly, use an administrator or the "
                "service-account token, or untick 'Include sub-users'."
            )

    def apply_state(self, ref, target, snapshot=None, account=None, payload=None, msg_id=None):
        """PUT every user whose managed flags differ from the target (idempotent)."""
        if account is None:
            read = self.read_account(ref)
            if not read["ok"]:
                return read
            account = read["account"]
        changes = [(user, self._target_user(user, target, snapshot)) for user in account]
        changes = [(user, new) for user, new in changes if new != user]
        sent = []

        def steps(session):
            if changes:
                self._check_reach(session, [user for user, _new in changes])
            for user, new in changes:
                response = self._request(session, "PUT", f"/api/users/{user['id']}", json=new)
                sent.append({"id": user["id"], "status": response.status_code, "user": new})

        _done, failure = self._exchange(steps, ref, retry=True)
        if failure:
            return dict(failure, sent=sent)
        summary = [{"id": s["id"], "status": s["status"]} for s in sent]
        if target == "active" and account and is_expired(account[0]):
            # Restored, but Traccar still refuses its logins (Disableable.checkDisabled).
            summary.append({"id": account[0]["id"], "expired": account[0].get("expirationTime")})
        return {
            "ok": True,
            "status": sent[-1]["status"] if sent else 200,
            "response": json.dumps(summary),
            "sent": sent,
        }

    def test_connection(self):
        """``GET /api/server`` (no login needed: is it a Traccar server, is it
        read-only), the connector's own user (who it is: administrator, service
        account, manager) and an authenticated ``GET /api/users?limit=1`` (the header
        the outbox sends works)."""

        def steps(session):
            server = self._request(session, "GET", "/api/server").json()
            if not isinstance(server, dict) or "registration" not in server:
                raise _Refused("The URL does not answer as a Traccar server (GET /api/server).")
            me = self._whoami(session)
            self._request(session, "GET", "/api/users", params={"limit": 1, "excludeAttributes": "true"})
            return server, me

        answers, failure = self._exchange(steps)
        if failure:
            return failure
        server, me = answers
        name = me.get("email") or me.get("login") or me.get("name") or str(me.get("id"))
        if me.get("id") == SERVICE_ACCOUNT_ID:
            kind = "service account (administrator)"
        elif me.get("administrator"):
            kind = "administrator"
        elif me.get("userLimit"):
            kind = "manager"
        else:
            return self._refused(
                f"The connector's Traccar user {name} is neither an administrator nor a manager: "
                "Traccar lets it change no other user. Use an administrator, the service-account "
                "token, or a manager (user limit not 0) of the customers' users."
            )
        if not me.get("administrator") and me.get("readonly"):
            return self._refused(
                f"The connector's Traccar user {name} is read-only: Traccar refuses its changes "
                "(Write access denied)."
            )
        if not me.get("administrator") and server.get("readonly"):
            return self._refused(
                "The Traccar server is read-only: it refuses every change by a non-administrator "
                "(Write access denied). Use an administrator."
            )
        notes = [f"Connected to Traccar as {name}, {kind}."]
        if kind == "manager":
            notes.append("A manager changes only the users it manages directly.")
        if self.conf.get("auth_type") == "token" and me.get("id") != SERVICE_ACCOUNT_ID:
            expiration = token_expiration(self.conf.get("token"))
            if expiration:
                notes.append(
                    f"This token expires on {expiration:%Y-%m-%d %H:%M} UTC: prefer a "
                    "service-account token (web.serviceAccountToken), which never expires."
                )
        account_expiration = parse_java_date(me.get("expirationTime"))
        if account_expiration:
            notes.append(f"The connector's account itself expires on {account_expiration:%Y-%m-%d}.")
        return {"ok": True, "message": " ".join(notes), "account_kind": kind}

    def check_account(self, ref):
        """Whether user ``ref`` exists for the connector (``GET /api/users/{id}``)."""
        user, failure = self._exchange(
            lambda session: self._request(session, "GET", f"/api/users/{ref}").json(), ref
        )
        if failure:
            status, answer = failure["status"], failure["response"] or ""
            if status == 404 or (status == 400 and "User access denied" in answer):
                return {"ok": True, "exists": False, "name": "", "message": failure["error"]}
            return failure
        state = self._user_state(user)
        message = ""
        if is_expired(user):
            message = f"Expired on {user.get('expirationTime')}: Traccar refuses its logins."
        elif user.get("disabled"):
            message = "Disabled in Traccar."
        return {
            "ok": True,
            "exists": True,
            "name": user.get("name") or user.get("email") or "",
            "state": state,
            "message": message,
        }

    @staticmethod
    def _matches(user, wanted):
        return wanted and wanted in (
            (user.get("email") or "").casefold(),
            (user.get("login") or "").casefold(),
        )

    @staticmethod
    def _as_match(user):
        return {
            "ref": str(user["id"]),
            "name": user.get("name") or "",
            "email": user.get("email") or "",
            "login": user.get("login") or "",
        }

    def find_account(self, login):
        """The user whose email or login is ``login`` (case-insensitive), among those the
        connector's user sees (all for an administrator, its own users for a manager):
        ``GET /api/users?keyword=`` (name or email), then the whole list for a login."""
        wanted = (login or "").strip().casefold()

        def steps(session):
            users = self._request(session, "GET", "/api/users", params={"keyword": wanted}).json()
            matches = [user for user in users if self._matches(user, wanted)]
            return matches or [user for user in self._list_users(session) if self._matches(user, wanted)]

        matches, failure = self._exchange(steps)
        if failure:
            return failure
        matches = [self._as_match(user) for user in sorted(matches, key=lambda u: u.get("id") or 0)]
        first = matches[0] if matches else {"ref": None, "name": ""}
        return {"ok": True, "ref": first["ref"], "name": first["name"], "matches": matches}

    def find_accounts(self, logins):
        """Every user seen by the connector, read once, matched to each email or login."""
        users, failure = self._exchange(self._list_users)
        if failure:
            return failure
        index = {}
        for user in sorted(users, key=lambda u: u.get("id") or 0):
            keys = {(user.get("email") or "").casefold(), (user.get("login") or "").casefold()} - {""}
            for key in keys:
                index.setdefault(key, []).append(self._as_match(user))
        return {
            "ok": True,
            "matches": {login: index.get((login or "").strip().casefold(), []) for login in logins},
        }


class _Refused(Exception):
    """What the connector refuses by itself, before any change (a user the connector's
    Traccar user cannot reach, a server that is not Traccar): its message in plain words."""
