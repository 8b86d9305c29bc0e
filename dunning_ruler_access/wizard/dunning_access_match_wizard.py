from odoo import api, fields, models
from odoo.exceptions import UserError

MATCH_STATES = [
    ("match", "Match"),
    ("ambiguous", "Ambiguous"),
    ("missing", "Not found"),
    ("no_email", "No email"),
    ("linked", "Already linked"),
]


class DunningAccessMatchWizard(models.TransientModel):
    """Link many customers at once to their platform accounts, matched by email: the
    matches are shown first, ambiguous and missing ones apart, then linked."""

    _name = "dunning.access.match.wizard"
    _description = "Match customers to platform accounts"

    platform_id = fields.Many2one(
        "dunning.access.platform",
        required=True,
        domain="[('kind', '!=', 'webhook')]",
        default=lambda self: self.env["dunning.access.platform"].search([("kind", "!=", "webhook")], limit=1),
    )
    partner_ids = fields.Many2many(
        "res.partner",
        string="Customers",
        domain="[('is_company', '=', True)]",
        help="Empty: every company customer not yet linked to this platform.",
    )
    line_ids = fields.One2many("dunning.access.match.wizard.line", "wizard_id", string="Matches")
    searched = fields.Boolean(readonly=True)
    summary = fields.Char(readonly=True)

    def _get_partners(self):
        if self.partner_ids:
            return self.partner_ids.commercial_partner_id
        linked = (
            self.env["dunning.access.binding"].search([("platform_id", "=", self.platform_id.id)]).partner_id
        )
        return self.env["res.partner"].search(
            [
                ("is_company", "=", True),
                ("customer_rank", ">", 0),
                ("id", "not in", linked.ids),
                "|",
                ("company_id", "=", False),
                ("company_id", "=", self.platform_id.company_id.id),
            ]
        )

    def action_search(self):
        """Look every customer's email up on the platform, in one request when the
        platform allows it, and show what would be linked."""
        self.ensure_one()
        partners = self._get_partners()
        emails = {p: (p.email or "").strip() for p in partners}
        result = self.platform_id._get_platform_api().find_accounts(sorted({e for e in emails.values() if e}))
        if not result["ok"]:
            raise UserError(
                self.env._(
                    "%(name)s could not look the customers up: %(error)s",
                    name=self.platform_id.name,
                    error=result["error"],
                )
            )
        matches = result["matches"]
        bindings = self.env["dunning.access.binding"].search([("platform_id", "=", self.platform_id.id)])
        bound = {b.external_ref: b.partner_id for b in bindings}
        bound_partners = set(bindings.partner_id.ids)
        # An account found for several customers is ambiguous for each of them.
        claims = {}
        for partner, email in emails.items():
            for match in matches.get(email, []):
                claims.setdefault(match["ref"], []).append(partner)
        lines = []
        for partner in partners.sorted("name"):
            email = emails[partner]
            found = matches.get(email, []) if email else []
            vals = {"partner_id": partner.id, "email": email or False}
            if partner.id in bound_partners:
                refs = bindings.filtered(lambda b, p=partner: b.partner_id == p).mapped("external_ref")
                vals.update(state="linked", ref=", ".join(refs))
            elif not email:
                vals.update(state="no_email")
            elif not found:
                vals.update(state="missing")
            elif len(found) > 1:
                vals.update(
                    state="ambiguous",
                    ref=", ".join(m["ref"] for m in found),
                    note=self.env._("Several accounts have this email or login."),
                )
            elif found[0]["ref"] in bound:
                vals.update(
                    state="linked",
                    ref=found[0]["ref"],
                    account_name=found[0]["name"],
                    note=self.env._("Already linked to %s", bound[found[0]["ref"]].display_name),
                )
            elif len(claims[found[0]["ref"]]) > 1:
                others = [p.display_name for p in claims[found[0]["ref"]] if p != partner]
                vals.update(
                    state="ambiguous",
                    ref=found[0]["ref"],
                    account_name=found[0]["name"],
                    note=self.env._("Also the email of %s", ", ".join(others)),
                )
            else:
                vals.update(state="match", ref=found[0]["ref"], account_name=found[0]["name"], to_link=True)
            lines.append(fields.Command.create(vals))
        counts = {state: 0 for state, _label in MATCH_STATES}
        for command in lines:
            counts[command[2]["state"]] += 1
        self.write(
            {
                "line_ids": [fields.Command.clear(), *lines],
                "searched": True,
                "summary": self.env._(
                    "%(match)s to link, %(ambiguous)s ambiguous, %(missing)s not found, "
                    "%(no_email)s without email, %(linked)s already linked.",
                    **counts,
                ),
            }
        )
        return self._reopen()

    def action_link(self):
        """Create the bindings of the ticked matches."""
        self.ensure_one()
        lines = self.line_ids.filtered(lambda line: line.to_link and line.state == "match")
        if not lines:
            raise UserError(self.env._("Tick at least one match to link."))
        self.env["dunning.access.binding"].with_context(dunning_access_skip_check=True).create(
            [
                {
                    "partner_id": line.partner_id.id,
                    "platform_id": self.platform_id.id,
                    "external_ref": line.ref,
                    # Just found on the platform: no need to ask again.
                    "account_check": "found",
                    "account_name": line.account_name,
                }
                for line in lines
            ]
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": self.env._("%s customers linked.", len(lines)),
                "type": "success",
                "sticky": False,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Match customers"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    @api.onchange("platform_id", "partner_ids")
    def _onchange_reset(self):
        self.line_ids = [fields.Command.clear()]
        self.searched = False
        self.summary = False


class DunningAccessMatchWizardLine(models.TransientModel):
    _name = "dunning.access.match.wizard.line"
    _description = "Customer matched to a platform account"
    _order = "id"

    wizard_id = fields.Many2one("dunning.access.match.wizard", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True)
    email = fields.Char(readonly=True)
    state = fields.Selection(MATCH_STATES, string="Result", required=True, readonly=True)
    ref = fields.Char(string="Account Reference", readonly=True)
    account_name = fields.Char(string="Name on the Platform", readonly=True)
    note = fields.Char(readonly=True)
    to_link = fields.Boolean(string="Link")
