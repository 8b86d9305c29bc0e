from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.dunning_ruler.tools import webhook

# A report is accepted while its signed timestamp is within the tolerance of the
# clock, either way: an id must be remembered that long after its timestamp, i.e.
# up to twice the tolerance after it was received. A minute more for clock skew
# between the Odoo workers and PostgreSQL.
RETENTION = timedelta(seconds=2 * webhook.TOLERANCE_SECONDS + 60)


class SmsHttpGatewayReceipt(models.Model):
    """The ``webhook-id`` of each delivery report a gateway had accepted, kept as
    long as a replay of it could still pass the timestamp check: a report is
    applied once, however many times it arrives."""

    _name = "sms.http.gateway.receipt"
    _description = "Delivery report received from an SMS HTTP gateway"
    _log_access = False

    gateway_id = fields.Many2one("sms.http.gateway", required=True, ondelete="cascade", readonly=True)
    webhook_id = fields.Char("Webhook ID", required=True, readonly=True)
    received_at = fields.Datetime(required=True, readonly=True, index=True)

    _webhook_id_unique = models.UniqueIndex("(gateway_id, webhook_id)")

    @api.model
    def _record_receipt(self, gateway, webhook_id):
        """Record that ``gateway`` sent the report ``webhook_id``; False when it was
        already recorded (a replay). Safe when the same report arrives twice at once:
        the unique index decides, the second insert waits for the first transaction
        and inserts nothing if it commits."""
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO sms_http_gateway_receipt (gateway_id, webhook_id, received_at)
                VALUES (%s, %s, %s)
                ON CONFLICT (gateway_id, webhook_id) DO NOTHING
                RETURNING id
                """,
                gateway.id,
                webhook_id,
                fields.Datetime.now(),
            )
        )
        return bool(self.env.cr.fetchone())

    @api.autovacuum
    def _gc_expired(self):
        """Forget the ids whose replays the timestamp check refuses by now."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM sms_http_gateway_receipt WHERE received_at < %s",
                fields.Datetime.now() - RETENTION,
            )
        )
