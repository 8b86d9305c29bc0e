"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``v1,<base64>`` in the
webhook-signature header, with a base64 secret prefixed by ``whsec_``.

The one implementation of the scheme for every Dunning Ruler addon: the SMS
gateway's delivery reports, the access connector's outbound calls and the
tracking-platform simulator all sign and verify through this module.

``verify`` takes what arrives from the network: whatever the body and headers
hold (a huge or non-UTF-8 body, ``inf`` or ``nan`` timestamps, non-ASCII
signatures, JSON nested too deep), it raises ``WebhookVerificationError`` and
nothing else. The signature is checked by the reference implementation (PyPI
``standardwebhooks``) when installed, otherwise by the fallback below, which
follows the same specification so that the addon does not depend on it.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time

TOLERANCE_SECONDS = 5 * 60
# Delivery reports and platform calls are a few hundred bytes: more is refused
# before anything is hashed or parsed.
MAX_BODY_BYTES = 64 * 1024
MAX_ID_LENGTH = 255
# Whole seconds since the epoch, as the specification sends them (12 digits last
# until year 33658: no float, no exponent, no inf or nan).
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")

try:
    from standardwebhooks.webhooks import Webhook as _StandardWebhook
    from standardwebhooks.webhooks import WebhookVerificationError as _StandardError
except ImportError:  # pragma: no cover - depends on the environment
    _StandardWebhook = None
    _StandardError = None


class WebhookVerificationError(Exception):
    """The request is not a message signed with the secret (or it is unreadable)."""


class WebhookPayloadTooLarge(WebhookVerificationError):
    """The body is larger than allowed; nothing of it was hashed."""


class WebhookPayloadError(WebhookVerificationError):
    """The signature matched, but the body is not JSON."""


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


def _check_headers(headers):
    """(webhook-id, timestamp, signatures) of well-formed headers, in tolerance."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("Missing required headers")
    if len(msg_id) > MAX_ID_LENGTH:
        raise WebhookVerificationError("webhook-id too long")
    if not _TIMESTAMP_RE.fullmatch(timestamp.strip()):
        raise WebhookVerificationError("Invalid timestamp")
    timestamp = int(timestamp)
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp outside tolerance")
    return msg_id, timestamp, signatures


def _signature_matches(secret, msg_id, timestamp, text, signatures):
    expected = base64.b64decode(sign(secret, msg_id, timestamp, text).split(",", 1)[1])
    for candidate in signatures.split():
        version, _sep, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):  # not base64, or not even ASCII
            continue
        if hmac.compare_digest(expected, given):
            return True
    return False


def verify(secret, body, headers, max_size=MAX_BODY_BYTES):
    """Check the signature of ``body`` (bytes or str) and return its parsed JSON.

    :param headers: any mapping of the request's headers (case-insensitive names)
    :param max_size: largest body accepted, in bytes (None: no limit)
    :raise WebhookPayloadTooLarge: body over ``max_size``, refused before hashing
    :raise WebhookPayloadError: the signature matched but the body is not JSON
    :raise WebhookVerificationError: missing or malformed headers, stale timestamp,
        body not UTF-8, bad signature (and nothing else, whatever the input)
    """
    if not secret:
        raise WebhookVerificationError("No webhook secret configured")
    if isinstance(body, str):
        body = body.encode()
    if max_size is not None and len(body) > max_size:
        raise WebhookPayloadTooLarge(f"Body larger than {max_size} bytes")
    headers = {str(key).lower(): str(value) for key, value in headers.items()}
    msg_id, timestamp, signatures = _check_headers(headers)
    try:
        text = body.decode()
    except UnicodeDecodeError as e:
        raise WebhookVerificationError("Body is not UTF-8") from e
    try:
        key = _secret_bytes(secret)
    except (binascii.Error, ValueError) as e:
        raise WebhookVerificationError("Invalid webhook secret") from e
    if not key:
        raise WebhookVerificationError("Invalid webhook secret")
    if _StandardWebhook is not None:
        try:
            _StandardWebhook(secret).verify(text, headers, json_parse=False)
        except _StandardError as e:
            raise WebhookVerificationError(str(e)) from e
        except (ValueError, TypeError) as e:
            raise WebhookVerificationError(f"Malformed webhook: {e}") from e
    elif not _signature_matches(secret, msg_id, timestamp, text, signatures):
        raise WebhookVerificationError("No matching signature found")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise WebhookPayloadError(f"Malformed webhook: {type(e).__name__}") from e


def signed_headers(secret, msg_id, body, timestamp=None):
    """The three Standard Webhooks headers for sending ``body`` (bytes) now."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
