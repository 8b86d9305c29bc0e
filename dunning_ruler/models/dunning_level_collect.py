from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval


class DunningLevel(models.Model):
    _inherit = "dunning.level"

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

    action = fields.Selection(
        selection_add=[("handover", "Hand over to collection")],
        ondelete={"handover": "set default"},
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

    def _has_conditions(self):
        self.ensure_one()
        return bool(
            self.condition_min_amount > 0 or self.condition_min_invoices > 0 or self.condition_partner_domain
        )

    def _get_condition_domain(self):
        self.ensure_one()
        domain = self.condition_partner_domain
        return list(safe_eval(domain)) if domain and domain.strip() not in ("", "[]") else []

    @api.constrains("condition_min_amount", "condition_min_invoices", "condition_partner_domain")
    def _check_conditions(self):
        for level in self:
            if level.condition_min_amount < 0 or level.condition_min_invoices < 0:
                raise ValidationError(
                    self.env._("The conditions of level “%s” cannot be negative.", level.name)
                )
            if level.condition_partner_domain:
                try:
                    self.env["res.partner"].sudo().search(level._get_condition_domain(), limit=1)
                except Exception as error:
                    raise ValidationError(
                        self.env._(
                            "The customer filter of level “%(level)s” is invalid: %(error)s",
                            level=level.name,
                            error=error,
                        )
                    ) from error

    @api.constrains("action", "handover_partner_id")
    def _check_handover(self):
        for level in self:
            if level.action == "handover" and not level.handover_partner_id:
                raise ValidationError(
                    self.env._("Level “%s” hands over: choose the collection agency.", level.name)
                )

    @api.constrains("fee_mode", "fee_amount", "fee_percent", "fee_max", "fee_product_id")
    def _check_fee(self):
        for level in self:
            if min(level.fee_amount, level.fee_percent, level.fee_max) < 0:
                raise ValidationError(self.env._("The fee of level “%s” cannot be negative.", level.name))
            if level.fee_mode == "fixed" and not level.fee_amount:
                raise ValidationError(
                    self.env._("Level “%s” charges a fixed fee: set its amount.", level.name)
                )
            if level.fee_mode == "percent" and not 0 < level.fee_percent <= 100:
                raise ValidationError(
                    self.env._("Level “%s” charges a percentage: set it between 0 and 100.", level.name)
                )
            if level.fee_mode != "none" and not level.fee_product_id:
                raise ValidationError(self.env._("Level “%s” charges a fee: choose its product.", level.name))
