from odoo import fields, models


class SmsTracker(models.Model):
    _inherit = "sms.tracker"

    # Trackers outlive sms.sms (garbage collected once sent): they keep which gateway
    # sent the message, so a delivery report is only accepted from that gateway.
    http_gateway_id = fields.Many2one(
        "sms.http.gateway", index="btree_not_null", ondelete="set null", readonly=True
    )
    http_gateway_message_id = fields.Char("Gateway Message ID", index="btree_not_null", readonly=True)
