from odoo import fields, models

from odoo.addons.dunning_ruler.tools.i18n import _lt, write_texts

# The notification statuses that make a dunning message failed, or delivered.
FAILED_STATUSES = ("exception", "bounce")
DELIVERED_STATUS = "sent"


class SmsTracker(models.Model):
    _inherit = "sms.tracker"

    # Trackers outlive sms.sms (garbage collected once sent): they keep which gateway
    # sent the message, so a delivery report is only accepted from that gateway.
    http_gateway_id = fields.Many2one(
        "sms.http.gateway", index="btree_not_null", ondelete="set null", readonly=True
    )
    http_gateway_message_id = fields.Char("Gateway Message ID", index="btree_not_null", readonly=True)

    def _update_sms_notifications(self, notification_status, failure_type=False, failure_reason=False):
        """The dunning event of the message follows its notification: a gateway's
        refusal or a failure report makes it ``failed`` (the events' Failed filter finds
        it), a later delivery report makes it ``done`` again."""
        result = super()._update_sms_notifications(
            notification_status, failure_type=failure_type, failure_reason=failure_reason
        )
        self._dunning_update_events(notification_status, failure_type, failure_reason)
        return result

    def _dunning_update_events(self, notification_status, failure_type, failure_reason):
        if notification_status not in (*FAILED_STATUSES, DELIVERED_STATUS):
            return
        # The status the notification ended in (Odoo ignores some transitions, e.g. a
        # bounce after delivery); a tracker without notification takes the reported one.
        uuids = [
            tracker.sms_uuid
            for tracker in self
            if (tracker.mail_notification_id.notification_status or notification_status)
            == notification_status
        ]
        if not uuids:
            return
        Event = self.env["dunning.event"].sudo()
        if notification_status == DELIVERED_STATUS:
            Event.search([("sms_uuid", "in", uuids), ("state", "=", "failed")]).write(
                {"state": "done", "failure_reason": False}
            )
            return
        labels = dict(self.env["mail.notification"]._fields["failure_type"]._description_selection(self.env))
        reason = failure_reason or labels.get(failure_type) or failure_type or ""
        # The provider's reason is its own text; the sentence is in every language.
        write_texts(
            Event.search([("sms_uuid", "in", uuids), ("state", "=", "done")]),
            {"state": "failed", "failure_reason": _lt("The gateway did not deliver the message: %s", reason)},
        )
