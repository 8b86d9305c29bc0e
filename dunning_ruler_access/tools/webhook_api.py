"""Any platform by webhook: each call is a JSON POST of its payload, signed per
Standard Webhooks (``odoo.addons.dunning_ruler.tools.webhook``) with the platform's
``whsec_`` secret; the call's idempotency key is the ``webhook-id``."""

import json

import requests

from odoo.addons.dunning_ruler.tools import webhook

from .platform_api import RESPONSE_LIMIT, PlatformApi, PlatformApiError


class WebhookApi(PlatformApi):
    kind = "webhook"

    @classmethod
    def _get_conf(cls, platform):
        return dict(super()._get_conf(platform), webhook_secret=platform.webhook_secret)

    def apply_state(self, ref, target, snapshot=None, account=None, payload=None, msg_id=None):
        if not self.conf.get("webhook_secret"):
            return self._error(
                f"The platform {self.conf.get('name')} has no webhook secret: nothing can be signed"
            )
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            **webhook.signed_headers(self.conf["webhook_secret"], msg_id, body),
        }
        session = requests.Session()  # the signature authenticates: no credentials
        try:
            response = self._request(session, "POST", self.conf["base_url"], data=body, headers=headers)
        except PlatformApiError as e:
            return self._failure(e)
        finally:
            session.close()
        return {
            "ok": True,
            "status": response.status_code,
            "response": self._redact(response.text[:RESPONSE_LIMIT]),
        }

    def test_connection(self):
        """A webhook is only ever sent for a real decision: nothing to try."""
        return {"ok": True, "message": ""}
