"""Traccar (https://www.traccar.org): restriction flags on the customer's user and on
the users it manages, ``disabled`` to block, the flags found before restoring on unblock.

Traccar's ``PUT /api/users/{id}`` replaces every column of the user: a user is always
read first and sent back whole, with only the managed flags changed.
"""

import json

from odoo.exceptions import ValidationError

from .platform_api import PlatformApi, PlatformApiError

DEFAULT_RESTRICT_FLAGS = "limitCommands,readonly,deviceReadonly,disableReports"
TRACCAR_FLAGS = {"limitCommands", "readonly", "deviceReadonly", "disableReports", "disabled"}


def parse_flags(text):
    return [flag.strip() for flag in (text or "").split(",") if flag.strip()]


class TraccarApi(PlatformApi):
    kind = "traccar"
    snapshot_before_apply = True

    # ------------------------------------------------------------------ main thread
    @classmethod
    def _get_conf(cls, platform):
        return dict(
            super()._get_conf(platform),
            include_sub_users=platform.include_sub_users,
            restrict_flags=parse_flags(platform.restrict_flags),
        )

    @classmethod
    def _check_platform(cls, platform):
        res = super()._check_platform(platform)
        flags = parse_flags(platform.restrict_flags)
        unknown = set(flags) - TRACCAR_FLAGS
        if unknown or not flags:
            raise ValidationError(
                platform.env._(
                    "Unknown Traccar flags: %(flags)s. Use %(known)s.",
                    flags=", ".join(sorted(unknown)) or "-",
                    known=DEFAULT_RESTRICT_FLAGS,
                )
            )
        return res

    # ------------------------------------------------------------------ operations
    def read_account(self, ref):
        """The platform user and, when ``include_sub_users``, the users it manages
        (GET only): ``account`` is that list of users, the customer's first."""
        session = self._session()
        try:
            main = self._request(session, "GET", f"/api/users/{ref}").json()
            users = [main]
            if self.conf.get("include_sub_users"):
                subs = self._request(session, "GET", "/api/users", params={"userId": ref}).json()
                users += [user for user in subs if user.get("id") != main.get("id")]
        except PlatformApiError as e:
            return self._failure(e)
        except ValueError as e:
            return {
                "ok": False,
                "status": None,
                "retry": True,
                "error": f"Invalid JSON from platform: {e}",
                "response": "",
                "retry_after": None,
            }
        finally:
            session.close()
        return {"ok": True, "account": users, "state": self._user_state(main)}

    def _user_state(self, user):
        if user.get("disabled"):
            return "blocked"
        flags = self.conf["restrict_flags"]
        return "restricted" if flags and all(user.get(flag) for flag in flags) else "active"

    def merge_snapshot(self, snapshot, account, target):
        """Remember each user's flags as they were before we restricted them. Users
        already known keep their first snapshot; new sub-users are added."""
        if target == "active":
            return snapshot
        merged = dict(snapshot)
        for user in account:
            merged.setdefault(
                str(user["id"]),
                {flag: bool(user.get(flag)) for flag in [*self.conf["restrict_flags"], "disabled"]},
            )
        return merged

    def _target_user(self, user, target, snapshot):
        """The whole user to PUT back for ``target``: from what GET returned, only the
        managed flags changed (back to the snapshot, then set for the target)."""
        flags = self.conf["restrict_flags"]
        original = snapshot.get(str(user["id"]), {})
        new = dict(user)
        for flag in [*flags, "disabled"]:
            if flag in original:
                new[flag] = original[flag]
        if target in ("restricted", "blocked"):
            for flag in flags:
                new[flag] = True
        if target == "blocked":
            new["disabled"] = True
        return new

    def apply_state(self, ref, target, snapshot=None, account=None, payload=None, msg_id=None):
        """PUT every user whose managed flags differ from the target (idempotent)."""
        if account is None:
            read = self.read_account(ref)
            if not read["ok"]:
                return read
            account = read["account"]
        session = self._session()
        sent = []
        try:
            for user in account:
                new = self._target_user(user, target, snapshot or {})
                if new == user:
                    continue
                response = self._request(session, "PUT", f"/api/users/{user['id']}", json=new)
                sent.append({"id": user["id"], "status": response.status_code, "user": new})
        except PlatformApiError as e:
            return dict(self._failure(e), sent=sent)
        finally:
            session.close()
        return {
            "ok": True,
            "status": sent[-1]["status"] if sent else 200,
            "response": json.dumps([{"id": s["id"], "status": s["status"]} for s in sent]),
            "sent": sent,
        }

    def test_connection(self):
        session = self._session()
        try:
            user = self._request(session, "GET", "/api/session").json()
        except PlatformApiError as e:
            return self._failure(e)
        except ValueError as e:
            return {
                "ok": False,
                "status": None,
                "retry": False,
                "error": f"Invalid JSON: {e}",
                "response": "",
            }
        finally:
            session.close()
        return {"ok": True, "message": user.get("email") or user.get("login") or ""}

    def find_account(self, login):
        """The user whose email or login is ``login`` (case-insensitive), among those the
        connector's user sees (all for an administrator, its own users for a manager)."""
        session = self._session()
        try:
            users = self._request(session, "GET", "/api/users").json()
        except PlatformApiError as e:
            return self._failure(e)
        except ValueError as e:
            return {
                "ok": False,
                "status": None,
                "retry": False,
                "error": f"Invalid JSON: {e}",
                "response": "",
            }
        finally:
            session.close()
        wanted = (login or "").strip().casefold()
        for user in sorted(users, key=lambda u: u.get("id") or 0):
            if wanted and wanted in (
                (user.get("email") or "").casefold(),
                (user.get("login") or "").casefold(),
            ):
                return {"ok": True, "ref": str(user["id"]), "name": user.get("name") or ""}
        return {"ok": True, "ref": None, "name": ""}
