from odoo import api, fields, models

from ..tools.sms_segments import sms_normalize_text, sms_segment_info


class SmsTemplate(models.Model):
    _inherit = "sms.template"

    sms_encoding = fields.Selection(
        [("gsm7", "GSM-7"), ("ucs2", "UCS-2 (Unicode)")], string="Encoding", compute="_compute_sms_length"
    )
    sms_length = fields.Integer("Length", compute="_compute_sms_length")
    sms_segments = fields.Integer("SMS Parts", compute="_compute_sms_length")

    @api.depends("body")
    def _compute_sms_length(self):
        """Of the template text as typed: placeholders count as written, the sent
        text (shown on each dunning event) can be longer or shorter."""
        for template in self:
            encoding, length, segments = sms_segment_info(sms_normalize_text(template.body))
            template.sms_encoding = encoding
            template.sms_length = length
            template.sms_segments = segments
