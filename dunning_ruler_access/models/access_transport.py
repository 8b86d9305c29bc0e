"""HTTP transport of access calls: plain functions, no ORM.

``process_outbox`` runs them in a thread pool (the ORM stays in the main thread), so
``conf`` is a dict copied from the platform and every function returns a dict.
"""

import json

import requests

from odoo.addons.dunning_ruler.tools import webhook

RESPONSE_LIMIT = 2000


class TransportError(Exception):
    """A failed exchange: ``status`` (None for network errors) and ``retry``."""

    def __init__(self, message, status=None, retry=False, body="", retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry = retry
        self.body = body
        self.retry_after = retry_after


def _session(conf):
    session = requests.Session()
    session.headers["Accept"] = "application/json"
    if conf.get("auth_type") == "token":
        session.headers["Authorization"] = f"Bearer {conf.get('token') or ''}"
    else:
        session.auth = (conf.get("username") or "", conf.get("password") or "")
    return session


def _request(session, conf, method, path, **kwargs):
    url = conf["base_url"].rstrip("/") + path
    try:
        response = session.request(method, url, timeout=conf["timeout"], **kwargs)
    except requests.Timeout as e:
        raise TransportError(f"Timeout after {conf['timeout']}s on {method} {path}", retry=True) from e
    except requests.RequestException as e:
        raise TransportError(
            f"Platform unreachable ({type(e).__name__}) on {method} {path}", retry=True
        ) from e
    if response.status_code >= 400:
        retry_after = response.headers.get("Retry-After")
        raise TransportError(
            f"HTTP {response.status_code} on {method} {path}",
            status=response.status_code,
            retry=response.status_code >= 500 or response.status_code == 429,
            body=response.text[:RESPONSE_LIMIT],
            retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    return response


def _failure(error):
    return {
        "ok": False,
        "status": error.status,
        "retry": error.retry,
        "error": str(error),
        "response": error.body,
        "retry_after": error.retry_after,
    }


# ---------------------------------------------------------------------- Traccar
def traccar_read(conf, user_id):
    """The platform user and, for a manager, its sub-users (GET only)."""
    session = _session(conf)
    try:
        main = _request(session, conf, "GET", f"/api/users/{user_id}").json()
        users = [main]
        if conf.get("include_sub_users"):
            subs = _request(session, conf, "GET", "/api/users", params={"userId": user_id}).json()
            users += [u for u in subs if u.get("id") != main.get("id")]
    except TransportError as e:
        return _failure(e)
    except ValueError as e:
        return {
            "ok": False,
            "status": None,
            "retry": True,
            "error": f"Invalid JSON from platform: {e}",
            "response": "",
        }
    finally:
        session.close()
    return {"ok": True, "users": users}


def traccar_target_user(user, target, flags, snapshot):
    """The whole user to PUT back for ``target``: Traccar's PUT replaces every column,
    so we start from what GET returned and only touch the managed flags."""
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


def traccar_write(conf, users, target, snapshot):
    """PUT every user whose managed flags differ from the target (idempotent)."""
    session = _session(conf)
    sent = []
    try:
        for user in users:
            new = traccar_target_user(user, target, conf["restrict_flags"], snapshot)
            if new == user:
                continue
            response = _request(session, conf, "PUT", f"/api/users/{user['id']}", json=new)
            sent.append({"id": user["id"], "status": response.status_code, "user": new})
    except TransportError as e:
        result = _failure(e)
        result["sent"] = sent
        return result
    finally:
        session.close()
    return {
        "ok": True,
        "status": sent[-1]["status"] if sent else 200,
        "response": json.dumps([{"id": s["id"], "status": s["status"]} for s in sent]),
        "sent": sent,
    }


# ---------------------------------------------------------------------- webhook
def webhook_send(conf, payload, msg_id):
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        **webhook.signed_headers(conf["webhook_secret"], msg_id, body),
    }
    session = requests.Session()
    try:
        response = _request(
            session, {**conf, "base_url": ""}, "POST", conf["base_url"], data=body, headers=headers
        )
    except TransportError as e:
        return _failure(e)
    finally:
        session.close()
    return {"ok": True, "status": response.status_code, "response": response.text[:RESPONSE_LIMIT]}
