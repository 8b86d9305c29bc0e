from collections import defaultdict

from odoo import fields, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    # Each batch of a run reads its customers' invoices (the open installments to plan,
    # those a reminder lists, the level reached per customer): Odoo does not index the
    # commercial partner, and without an index each of these reads scans every invoice,
    # a cost per batch that grows with the database, not with the batch.
    _dunning_customer_idx = models.Index("(commercial_partner_id)")

    dunning_level_id = fields.Many2one(
        "dunning.level",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Highest dunning level executed for this invoice.",
    )
    dunning_last_date = fields.Date(string="Last Dunning", copy=False, readonly=True)
    dunning_excluded = fields.Boolean(
        string="In dispute",
        copy=False,
        tracking=True,
        help="The customer disputes this invoice: no reminder, fee or restriction until the dispute "
        "is cleared; dunning then resumes from the level it had reached.",
    )
    dunning_exclusion_reason = fields.Char(string="Dispute Reason", copy=False, tracking=True)
    dunning_event_ids = fields.Many2many(
        "dunning.event",
        "dunning_event_account_move_rel",
        "move_id",
        "event_id",
        string="Dunning History",
        copy=False,
        readonly=True,
    )
    dunning_event_count = fields.Integer(compute="_compute_dunning_event_count")

    dunning_handover_id = fields.Many2one(
        "dunning.handover",
        string="Handed Over",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Hand-over to a collection agency in progress: no reminder goes to the customer.",
    )
    dunning_arrangement_id = fields.Many2one(
        "dunning.arrangement",
        string="Payment Arrangement",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Active payment arrangement: dunning is paused while it is kept.",
    )
    dunning_fee_ids = fields.One2many("dunning.fee", "move_id", string="Dunning Fees", readonly=True)
    dunning_is_fee_invoice = fields.Boolean(
        string="Dunning Fee Invoice",
        copy=False,
        readonly=True,
        help="Carries dunning fees: never charged a fee itself.",
    )

    def _compute_dunning_event_count(self):
        counts = dict(
            self.env["dunning.event"]._read_group(
                [("invoice_ids", "in", self.ids)], ["invoice_ids"], ["__count"]
            )
        )
        for move in self:
            move.dunning_event_count = counts.get(move, 0)

    def action_view_dunning_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.event",
            "view_mode": "list,form",
            "domain": [("invoice_ids", "in", self.ids)],
            "name": self.env._("Dunning History"),
        }

    def _dunning_action_open(self):
        """These invoices as a list: the invoices of a hand-over, of a dunning event."""
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", self.ids)],
            "name": self.env._("Invoices"),
        }

    def _dunning_check_disputable(self):
        self.env["res.partner"]._dunning_check_agent()
        wrong = self.filtered(lambda m: m.move_type != "out_invoice" or m.state != "posted")
        if wrong:
            raise UserError(
                self.env._(
                    "Only posted customer invoices can be put in or out of dispute: %s",
                    ", ".join(wrong.mapped("display_name")),
                )
            )

    def action_dunning_dispute(self, reason):
        """Put the invoices in dispute: no dunning for them until the dispute is cleared."""
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Give the reason of the dispute."))
        self._dunning_check_disputable()
        moves = self.sudo()
        moves.write({"dunning_excluded": True, "dunning_exclusion_reason": reason})
        body = self.env._("Dunning: invoice in dispute: %s", reason)
        moves._dunning_log_manual(body)
        return True

    def action_dunning_clear_dispute(self):
        """Dunning resumes at the next run, from the level the invoice had reached."""
        self._dunning_check_disputable()
        moves = self.sudo().filtered("dunning_excluded")
        if not moves:
            return True
        moves.write({"dunning_excluded": False, "dunning_exclusion_reason": False})
        moves._dunning_log_manual(self.env._("Dunning: dispute cleared, dunning resumes."))
        return True

    def _dunning_log_manual(self, body):
        """Trace ``body`` on the invoices and as one manual event per customer and company."""
        self._message_log_batch(bodies={move.id: body for move in self})
        by_partner = defaultdict(lambda: self.browse())
        for move in self:
            by_partner[move.commercial_partner_id, move.company_id] |= move
        self.env["dunning.event"]._dunning_create_manual(
            [
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "invoice_ids": moves.ids,
                    "message": body,
                }
                for (partner, company), moves in by_partner.items()
            ]
        )

    def action_open_dunning_dispute_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Dispute"),
            "res_model": "dunning.dispute.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_ids": self.ids},
        }
