import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class DunningAccessResync(models.Model):
    """A customer whose platform access must be decided again, recorded by the
    accounting side (a payment reconciled or unreconciled) when the decision could not
    be taken at once without waiting on the connector's locks. A plain insert: it never
    conflicts; the outbox cron takes the decision after the payment's commit."""

    _name = "dunning.access.resync"
    _description = "Platform Access Decision to Take Again"
    _order = "id"

    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", readonly=True)
    reason = fields.Char(readonly=True)

    @api.model
    def _request(self, partners, reason):
        if partners:
            self.sudo().create([{"partner_id": partner.id, "reason": reason} for partner in partners])
            self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger()

    @api.model
    def _apply(self, limit=500):
        """Take the recorded decisions (rows another worker holds are left to it)."""
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM dunning_access_resync
                 WHERE id IN (
                       SELECT id FROM dunning_access_resync ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
                 )
             RETURNING partner_id, reason
                """,
                limit,
            )
        )
        rows = self.env.cr.fetchall()
        by_reason = {}
        for partner_id, reason in rows:
            by_reason.setdefault(reason or "", set()).add(partner_id)
        Partner = self.env["res.partner"].sudo()
        for reason, partner_ids in by_reason.items():
            Partner.browse(partner_ids).exists()._dunning_access_sync(reason or None)
        return len(rows)
