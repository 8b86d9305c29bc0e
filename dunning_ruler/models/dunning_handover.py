from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools.i18n import _lt, write_texts


class DunningHandover(models.Model):
    """Overdue invoices of a customer handed to a collection agency or attorney.

    While active, the engine sends no reminder for these invoices; clearing it (traced)
    gives them back to the ladder, at the level they had reached."""

    _name = "dunning.handover"
    _description = "Dunning Hand-over"
    _inherit = ("mail.thread",)
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    agency_id = fields.Many2one(
        "res.partner",
        string="Collection Agency",
        required=True,
        index=True,
        ondelete="restrict",
        tracking=True,
    )
    level_id = fields.Many2one("dunning.level", ondelete="set null", index="btree_not_null")
    grade_id = fields.Many2one("dunning.grade", compute="_compute_grade", store=True)
    date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    invoice_ids = fields.Many2many(
        "account.move", "dunning_handover_account_move_rel", "handover_id", "move_id", string="Invoices"
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count", store=True)
    amount = fields.Monetary(
        string="Amount Handed Over", currency_field="currency_id", help="Open amount at hand-over."
    )
    amount_residual = fields.Monetary(
        string="Still Owed", currency_field="currency_id", compute="_compute_amount_residual"
    )
    currency_id = fields.Many2one(
        "res.currency", required=True, default=lambda self: self.env.company.currency_id
    )
    state = fields.Selection(
        [("active", "Handed over"), ("cleared", "Cleared")],
        default="active",
        required=True,
        index=True,
        tracking=True,
    )
    mail_message_id = fields.Many2one("mail.message", string="Summary Sent", ondelete="set null")
    failure_reason = fields.Text(translate=True)
    cleared_date = fields.Date(readonly=True, tracking=True)
    cleared_by_id = fields.Many2one("res.users", readonly=True)
    clear_note = fields.Char(tracking=True)

    @api.depends("partner_id", "agency_id", "date")
    def _compute_name(self):
        for handover in self:
            handover.name = (
                f"{handover.partner_id.display_name} → {handover.agency_id.display_name} ({handover.date})"
            )

    @api.depends("partner_id", "company_id")
    def _compute_grade(self):
        for handover in self:
            handover.grade_id = handover.partner_id.with_company(
                handover.company_id
            ).dunning_effective_grade_id

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for handover in self:
            handover.invoice_count = len(handover.invoice_ids)

    @api.depends("invoice_ids.amount_residual_signed")
    def _compute_amount_residual(self):
        for handover in self:
            handover.amount_residual = sum(handover.invoice_ids.mapped("amount_residual_signed"))

    def _dunning_failure_text(self):
        """Why the summary cannot be sent (a text in every language, tools/i18n.py), or False."""
        self.ensure_one()
        if not self.agency_id.email:
            return _lt("%s has no email address.", self.agency_id.display_name)
        return False

    def _send_summary(self):
        """Queue the summary email to each agency (sent by the mail queue after commit)."""
        by_template = defaultdict(lambda: self.browse())
        for handover in self:
            failure = handover._dunning_failure_text()
            if failure:
                write_texts(handover, {"failure_reason": failure})
                continue
            template = handover.level_id.handover_mail_template_id or self.env.ref(
                "dunning_ruler.mail_template_dunning_handover"
            )
            by_template[template] |= handover
        for template, handovers in by_template.items():
            # One rendering per template for the whole batch.
            subjects = template._render_field("subject", handovers.ids, compute_lang=True)
            bodies = template._render_field(
                "body_html", handovers.ids, engine="qweb", compute_lang=True, options={"post_process": True}
            )
            for handover in handovers:
                handover.mail_message_id = handover.with_context(mail_notify_force_send=False).message_post(
                    body=bodies[handover.id],
                    subject=subjects[handover.id],
                    partner_ids=handover.agency_id.ids,
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                    email_layout_xmlid="mail.mail_notification_light",
                )
        self.partner_id._message_log_batch(
            bodies={
                h.partner_id.id: self.env._(
                    "Dunning: %(count)s invoice(s) handed over to %(agency)s.",
                    count=h.invoice_count,
                    agency=h.agency_id.display_name,
                )
                for h in self
            }
        )

    def action_clear(self, note=False):
        """Give the invoices back to the customer's dunning (traced on the hand-over, the
        customer and as a dunning event)."""
        self.env["dunning.engine"]._check_role(
            "supervisor", self.env._("Only dunning supervisors can clear a hand-over.")
        )
        if self.filtered(lambda h: h.state != "active"):
            raise UserError(self.env._("Only active hand-overs can be cleared."))
        today = fields.Date.context_today(self)
        user = self.env.user
        for handover in self.sudo():
            handover.invoice_ids.filtered(lambda m, h=handover: m.dunning_handover_id == h).write(
                {"dunning_handover_id": False}
            )
            handover.write(
                {"state": "cleared", "cleared_date": today, "cleared_by_id": user.id, "clear_note": note}
            )
            body = self.env._(
                "Hand-over to %(agency)s cleared by %(user)s: %(note)s",
                agency=handover.agency_id.display_name,
                user=user.name,
                note=note or "-",
            )
            handover.message_post(body=body, message_type="notification")
            handover.partner_id._message_log(body=body)
            self.env["dunning.event"]._dunning_create_manual(
                [
                    {
                        "partner_id": handover.partner_id.id,
                        "company_id": handover.company_id.id,
                        "handover_id": handover.id,
                        "invoice_ids": handover.invoice_ids.ids,
                        "message": body,
                    }
                ]
            )
        return True

    def action_open_invoices(self):
        self.ensure_one()
        return self.invoice_ids._dunning_action_open()
