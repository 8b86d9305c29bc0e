from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.safe_eval import safe_eval

from ..tools.i18n import _lt

# Offsets outside this window are configuration mistakes (a year overdue, a quarter early).
MIN_OFFSET_DAYS = -90
MAX_OFFSET_DAYS = 365


class DunningLevel(models.Model):
    _name = "dunning.level"
    _description = "Dunning Level"
    _order = "ruler_id, offset_days, sequence, id"

    ruler_id = fields.Many2one("dunning.ruler", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="ruler_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    offset_days = fields.Integer(
        string="Offset (days)",
        required=True,
        help="Days relative to the due date: negative before it, 0 on the due date, positive overdue.",
    )
    tone = fields.Selection(
        [
            ("friendly", "Friendly"),
            ("neutral", "Neutral"),
            ("firm", "Firm"),
            ("urgent", "Urgent"),
            ("final", "Final"),
        ],
        default="neutral",
        required=True,
        help="Intensity of the communication at this level.",
    )
    send_email = fields.Boolean()
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email Template",
        domain=[("model", "=", "dunning.event")],
    )
    create_activity = fields.Boolean()
    activity_type_id = fields.Many2one("mail.activity.type")
    activity_summary = fields.Char(translate=True)
    activity_user_id = fields.Many2one(
        "res.users",
        string="Activity Assigned To",
        help="Defaults to the customer's salesperson, then to the user running the dunning.",
    )
    action = fields.Selection(
        [("none", "No action"), ("handover", "Hand over to collection")],
        default="none",
        required=True,
        help="What happens to the customer besides communication.",
    )
    description = fields.Text(translate=True)

    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    # Conditions: evaluated per batch by the engine (dunning.engine._plan_failed_conditions).
    condition_min_amount = fields.Monetary(
        string="Minimum Overdue Total",
        currency_field="company_currency_id",
        help="The level only applies when the customer's overdue total in this company reaches this amount.",
    )
    condition_min_invoices = fields.Integer(
        string="Minimum Overdue Invoices",
        help="The level only applies when the customer has at least this many overdue invoices.",
    )
    condition_partner_domain = fields.Char(
        string="Customer Filter",
        help="The level only applies to customers matching this filter (e.g. a sales team, "
        "more than N vehicles).",
    )
    condition_user_id = fields.Many2one(
        "res.users",
        string="Customer Filter Author",
        readonly=True,
        copy=False,
        help="The customer filter is evaluated with the access rights of the user who wrote it, "
        "in the level's company only.",
    )
    handover_partner_id = fields.Many2one(
        "res.partner",
        string="Collection Agency",
        help="Collection agency or attorney the overdue invoices are handed over to.",
    )
    handover_mail_template_id = fields.Many2one(
        "mail.template",
        string="Hand-over Email",
        domain=[("model", "=", "dunning.handover")],
        default=lambda self: self.env.ref(
            "dunning_ruler.mail_template_dunning_handover", raise_if_not_found=False
        ),
        help="Summary sent to the collection agency (empty: the default hand-over summary).",
    )
    fee_mode = fields.Selection(
        [("none", "No fee"), ("fixed", "Fixed amount"), ("percent", "Percentage of the amount due")],
        string="Fee",
        default="none",
        required=True,
        help="Dunning fee or late interest charged once per invoice when this level is executed.",
    )
    fee_amount = fields.Monetary(currency_field="company_currency_id")
    fee_percent = fields.Float(string="Fee (%)", digits=(16, 4))
    fee_max = fields.Monetary(
        string="Fee Cap", currency_field="company_currency_id", help="Maximum fee per invoice; 0: no cap."
    )
    fee_product_id = fields.Many2one(
        "product.product",
        default=lambda self: self.env.ref("dunning_ruler.product_dunning_fee", raise_if_not_found=False),
        help="Product of the fee line: its label and income account (fee or late interest).",
    )
    send_letter = fields.Boolean(
        help="Prepare a printed letter listing every overdue invoice; print them in batch "
        "from the dunning events (filter “Letters to print”).",
    )

    @api.constrains(
        "offset_days",
        "ruler_id",
        "send_email",
        "mail_template_id",
        "create_activity",
        "activity_type_id",
        "condition_min_amount",
        "condition_min_invoices",
        "condition_partner_domain",
        "action",
        "handover_partner_id",
        "fee_mode",
        "fee_amount",
        "fee_percent",
        "fee_max",
        "fee_product_id",
    )
    def _check_configuration(self):
        """Every problem of these levels and of their rulers, reported together."""
        self.env["dunning.ruler"]._raise_configuration_problems(
            self.ruler_id._get_ruler_problems() + self._get_configuration_problems()
        )

    def _get_configuration_problems(self):
        """The problems of these levels, as messages (their ruler checks that their
        offsets differ). Modules adding settings to the levels add their problems."""
        problems = []
        for level in self:
            if not MIN_OFFSET_DAYS <= level.offset_days <= MAX_OFFSET_DAYS:
                problems.append(
                    self.env._(
                        "The offset of level “%(level)s” must be between %(min)s and %(max)s days.",
                        level=level.name,
                        min=MIN_OFFSET_DAYS,
                        max=MAX_OFFSET_DAYS,
                    )
                )
            if level.send_email and not level.mail_template_id:
                problems.append(self.env._("Level “%s” sends an email: choose its template.", level.name))
            if level.create_activity and not level.activity_type_id:
                problems.append(self.env._("Level “%s” creates an activity: choose its type.", level.name))
            problems += level._get_condition_problems()
            if level.action == "handover" and not level.handover_partner_id:
                problems.append(
                    self.env._("Level “%s” hands over: choose the collection agency.", level.name)
                )
            problems += level._get_fee_problems()
        return problems

    @api.depends("name", "offset_days")
    def _compute_display_name(self):
        for level in self:
            offset = level.offset_days
            when = f"D{offset:+d}" if offset else "D0"
            level.display_name = f"{level.name} ({when})"

    def _get_channels(self):
        """Channels this level communicates or acts through, in dispatch order.

        Other modules extend this (sms, letter, access...)."""
        self.ensure_one()
        channels = []
        if self.send_email:
            channels.append("email")
        if self.create_activity:
            channels.append("activity")
        if self.send_letter:
            # Before "action": the letter announces what the action does.
            channels.append("letter")
        if self.action != "none":
            channels.append("action")
        return channels

    def _has_conditions(self):
        self.ensure_one()
        return bool(
            self.condition_min_amount > 0 or self.condition_min_invoices > 0 or self.condition_partner_domain
        )

    def _get_condition_domain(self):
        self.ensure_one()
        domain = self.condition_partner_domain
        return list(safe_eval(domain)) if domain and domain.strip() not in ("", "[]") else []

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("condition_partner_domain"):
                vals["condition_user_id"] = self.env.uid
        return super().create(vals_list)

    def write(self, vals):
        if "condition_partner_domain" in vals:
            # Whoever writes the filter answers for what it may read.
            vals = {**vals, "condition_user_id": self.env.uid if vals["condition_partner_domain"] else False}
        return super().write(vals)

    def _condition_partner_model(self):
        """``res.partner`` as the customer filter sees it: with the rights of the user
        who wrote it (record rules apply; filters older than that record: the level's
        last writer), within the level's company only. Never as superuser, never
        across companies: a filter is no way to learn what its author cannot read."""
        self.ensure_one()
        user = self.condition_user_id or self.write_uid or self.env.user
        return self.env["res.partner"].with_user(user).with_context(allowed_company_ids=self.company_id.ids)

    def _condition_matching_partners(self, partner_ids):
        """(ids of ``partner_ids`` matching the customer filter, None) or (empty set,
        why the filter could not be evaluated, a text in every language: tools/i18n.py)."""
        self.ensure_one()
        # Every customer, archived ones too: only the filter's own relations skip
        # archived records.
        domain = [("id", "in", list(partner_ids)), ("active", "in", [True, False])]
        try:
            partners = self._condition_partner_model().search(domain + self._get_condition_domain())
        except (AccessError, UserError, ValueError) as error:
            return set(), _lt(
                "Condition not met: the customer filter cannot be evaluated in %(company)s "
                "with the rights of %(user)s: %(error)s",
                company=self.company_id.name,
                user=(self.condition_user_id or self.write_uid).name,
                error=error.args[0] if error.args else error,
            )
        return set(partners.ids), None

    def _get_condition_problems(self):
        self.ensure_one()
        problems = []
        if self.condition_min_amount < 0 or self.condition_min_invoices < 0:
            problems.append(self.env._("The conditions of level “%s” cannot be negative.", self.name))
        if self.condition_partner_domain:
            # Checked as it runs: with its author's rights, in the level's company.
            try:
                with self.env.cr.savepoint():
                    self._condition_partner_model().search(self._get_condition_domain(), limit=1)
            except Exception as error:  # noqa: BLE001 - whatever the filter raises is its problem
                problems.append(
                    self.env._(
                        "The customer filter of level “%(level)s” is invalid: %(error)s",
                        level=self.name,
                        error=error,
                    )
                )
        return problems

    def _get_fee_problems(self):
        self.ensure_one()
        problems = []
        if min(self.fee_amount, self.fee_percent, self.fee_max) < 0:
            problems.append(self.env._("The fee of level “%s” cannot be negative.", self.name))
        if self.fee_mode == "fixed" and not self.fee_amount:
            problems.append(self.env._("Level “%s” charges a fixed fee: set its amount.", self.name))
        if self.fee_mode == "percent" and not 0 < self.fee_percent <= 100:
            problems.append(
                self.env._("Level “%s” charges a percentage: set it between 0 and 100.", self.name)
            )
        if self.fee_mode != "none" and not self.fee_product_id:
            problems.append(self.env._("Level “%s” charges a fee: choose its product.", self.name))
        return problems
