import hmac
import json

from odoo import fields, http
from odoo.http import request

from ..models.dunning_access_platform import hash_pull_token


class DunningAccessController(http.Controller):
    """Lets a platform pull a customer's current state (its own accounts only)."""

    def _json(self, status, data):
        return request.make_response(
            json.dumps(data), headers=[("Content-Type", "application/json")], status=status
        )

    @http.route(
        "/dunning_access/v1/accounts/<string:ref>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def account_state(self, ref, **kwargs):
        # The token in the Authorization header only (a query string ends up in logs).
        header = request.httprequest.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token:
            return self._json(401, {"error": "missing bearer token"})
        if not (token.isascii() and token.isprintable()):
            return self._json(401, {"error": "invalid token"})
        # Tokens are stored hashed; every stored hash is compared, in constant time.
        digest = hash_pull_token(token)
        Platform = request.env["dunning.access.platform"].sudo()
        platform = None
        for candidate in Platform.search([("pull_token_hash", "!=", False)]):
            if hmac.compare_digest(candidate.pull_token_hash, digest) and platform is None:
                platform = candidate
        if platform is None:
            return self._json(401, {"error": "invalid token"})
        binding = (
            request.env["dunning.access.binding"]
            .sudo()
            .search([("platform_id", "=", platform.id), ("external_ref", "=", ref)], limit=1)
        )
        if not binding:
            return self._json(404, {"error": "unknown account"})
        partner = binding.partner_id.with_company(binding.company_id)
        return self._json(
            200,
            {
                "account_ref": binding.external_ref,
                "access_state": binding.access_state,
                "desired_state": binding.desired_state,
                "confirmed_state": binding.confirmed_state,
                "reason": binding.state_reason,
                "trust_until": fields.Date.to_string(binding.trust_until) if binding.trust_until else None,
                "amount_overdue": partner.with_context(
                    allowed_company_ids=binding.company_id.ids
                ).dunning_overdue_amount,
                "currency": binding.company_id.currency_id.name,
            },
        )
