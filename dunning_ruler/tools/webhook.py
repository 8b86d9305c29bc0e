"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``v1,<base64>`` in the
webhook-signature header, with a base64 secret prefixed by ``whsec_``.

The one implementation of the scheme for every Dunning Ruler addon: the SMS
gateway's delivery reports, the access connector's outbound calls and the
tracking-platform simulator all sign and verify through this module.

The reference implementation (PyPI ``standardwebhooks``) is used when installed;
the fallback below follows the same specification so that the addon does not
depend on it.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

TOLERANCE_SECONDS = 5 * 60

try:
    from standardwebhooks.webhooks import Webhook as _StandardWebhook
    from standardwebhooks.webhooks import WebhookVerificationError as _StandardError
except ImportError:  # pragma: no cover - depends on the environment
    _StandardWebhook = None
    _StandardError = None


class WebhookVerificationError(Exception):
    pass


def generate_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_bytes(secret):
    return base64.b64decode(secret.removeprefix("whsec_") + "==")


def sign(secret, msg_id, timestamp, body):
    """The webhook-signature value of ``body`` (str or bytes) sent at ``timestamp`` (int)."""
    if isinstance(body, bytes):
        body = body.decode()
    to_sign = f"{msg_id}.{int(timestamp)}.{body}".encode()
    digest = hmac.new(_secret_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret, body, headers):
    """Check the signature of ``body`` (bytes) and return its parsed JSON.

    :raise WebhookVerificationError: missing headers, stale timestamp, bad signature
    """
    if not secret:
        raise WebhookVerificationError("No webhook secret configured")
    headers = {key.lower(): value for key, value in headers.items()}
    if _StandardWebhook is not None:
        try:
            return _StandardWebhook(secret).verify(body, headers)
        except _StandardError as e:
            raise WebhookVerificationError(str(e)) from e
        except (ValueError, TypeError) as e:
            raise WebhookVerificationError(f"Malformed webhook: {e}") from e
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("Missing required headers")
    try:
        timestamp = int(float(timestamp))
    except ValueError as e:
        raise WebhookVerificationError("Invalid timestamp") from e
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp outside tolerance")
    text = body.decode() if isinstance(body, bytes) else body
    expected = sign(secret, msg_id, timestamp, text).split(",", 1)[1]
    for candidate in signatures.split(" "):
        version, _sep, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value):
            try:
                return json.loads(text)
            except ValueError as e:
                raise WebhookVerificationError(f"Malformed webhook: {e}") from e
    raise WebhookVerificationError("No matching signature found")


def signed_headers(secret, msg_id, body, timestamp=None):
    """The three Standard Webhooks headers for sending ``body`` (bytes) now."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
