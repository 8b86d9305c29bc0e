from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    dunning_fee_booking = fields.Selection(
        [("invoice", "Separate invoice"), ("line", "Line on the customer's next invoice")],
        string="Dunning Fees Booked As",
        default="invoice",
        required=True,
        help="Separate invoice: a posted fee invoice per reminder. Line: the fees gather on a draft "
        "invoice of the customer, billed with their next invoice.",
    )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    dunning_fee_booking = fields.Selection(related="company_id.dunning_fee_booking", readonly=False)
