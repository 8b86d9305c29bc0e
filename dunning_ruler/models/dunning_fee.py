from collections import defaultdict

from odoo import api, fields, models


class DunningFee(models.Model):
    """A dunning fee or late interest charged for one level on one invoice.

    The source of truth that a fee was charged: (invoice, level) is unique, so a rerun,
    a second run or a manual level never charges it twice."""

    _name = "dunning.fee"
    _description = "Dunning Fee"
    _order = "date desc, id desc"
    _check_company_auto = True

    date = fields.Date(required=True, index=True)
    move_id = fields.Many2one(
        "account.move", string="Dunned Invoice", required=True, index=True, ondelete="cascade"
    )
    level_id = fields.Many2one("dunning.level", required=True, index=True, ondelete="restrict")
    event_id = fields.Many2one("dunning.event", index="btree_not_null", ondelete="set null")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one("res.currency", required=True)
    amount = fields.Monetary(required=True)
    fee_move_id = fields.Many2one(
        "account.move", string="Charged On", index="btree_not_null", ondelete="set null"
    )
    fee_line_id = fields.Many2one("account.move.line", ondelete="set null")

    _move_level_uniq = models.Constraint(
        "unique(move_id, level_id)", "A dunning level charges its fee only once per invoice."
    )

    @api.model
    def _fee_for(self, level, move):
        """Fee of ``level`` on ``move``, in company currency (percentage of the open amount, capped)."""
        currency = move.company_id.currency_id
        if level.fee_mode == "fixed":
            amount = level.fee_amount
        else:
            amount = move.amount_residual_signed * level.fee_percent / 100.0
        if level.fee_max > 0:
            amount = min(amount, level.fee_max)
        return currency.round(max(amount, 0.0))

    @api.model
    def _charge(self, step_events, as_of):
        """Charge the fees of executed steps: [(PlanStep, first done event of the step)]."""
        move_ids = {mid for step, _event in step_events for mid in step.move_ids}
        level_ids = {step.level_id for step, _event in step_events}
        moves = self.env["account.move"].sudo().browse(move_ids)
        already = {
            (fee.move_id.id, fee.level_id.id)
            for fee in self.search([("move_id", "in", list(move_ids)), ("level_id", "in", list(level_ids))])
        }
        levels = self.env["dunning.level"].sudo().browse(level_ids)
        vals_list = []
        for step, event in step_events:
            level = levels.browse(step.level_id)
            for move in moves.browse(step.move_ids):
                if move.dunning_is_fee_invoice or (move.id, level.id) in already:
                    continue
                amount = self._fee_for(level, move)
                if move.company_id.currency_id.is_zero(amount):
                    continue
                already.add((move.id, level.id))
                vals_list.append(
                    {
                        "date": as_of,
                        "move_id": move.id,
                        "level_id": level.id,
                        "event_id": event.id,
                        "partner_id": step.partner_id,
                        "company_id": step.company_id,
                        "currency_id": move.company_id.currency_id.id,
                        "amount": amount,
                    }
                )
        # Recorded first: the unique (invoice, level) constraint guards against double charges.
        fees = self.create(vals_list)
        fees._book(as_of)
        return fees

    def _book(self, as_of):
        """Book the fees as lines of a separate posted invoice per customer and event, or on
        the customer's draft fee invoice (billed with the next invoice), per company setting."""
        groups = defaultdict(lambda: self.browse())
        for fee in self:
            mode = fee.company_id.dunning_fee_booking
            key = (mode, fee.company_id, fee.partner_id, fee.event_id if mode == "invoice" else False)
            groups[key] |= fee
        Move = self.env["account.move"].sudo()
        drafts = {}
        if any(mode == "line" for mode, *_rest in groups):
            for move in Move.search(
                [
                    ("dunning_is_fee_invoice", "=", True),
                    ("state", "=", "draft"),
                    ("move_type", "=", "out_invoice"),
                    ("partner_id", "in", self.partner_id.ids),
                ],
                order="id",
            ):
                drafts.setdefault((move.company_id, move.partner_id), move)
        # New invoices are created and posted in one batch each (posting is the costly part).
        new_vals, new_groups = [], []
        for (mode, company, partner, _event), fees in groups.items():
            line_vals = [
                fields.Command.create(
                    {
                        "product_id": fee.level_id.fee_product_id.id,
                        "name": self.env._(
                            "%(product)s: %(level)s, invoice %(invoice)s",
                            product=fee.level_id.fee_product_id.name,
                            level=fee.level_id.name,
                            invoice=fee.move_id.name,
                        ),
                        "quantity": 1,
                        "price_unit": fee.amount,
                    }
                )
                for fee in fees
            ]
            draft = drafts.get((company, partner)) if mode == "line" else None
            if draft:
                before = draft.invoice_line_ids
                draft.write({"invoice_line_ids": line_vals})
                fees._link((draft.invoice_line_ids - before).sorted("id"))
                continue
            new_vals.append(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "currency_id": company.currency_id.id,
                    "invoice_date": as_of if mode == "invoice" else False,
                    "invoice_date_due": as_of if mode == "invoice" else False,
                    "dunning_is_fee_invoice": True,
                    "invoice_line_ids": line_vals,
                }
            )
            new_groups.append((mode, fees))
        if not new_vals:
            return
        moves = Move
        for company in {vals["company_id"] for vals in new_vals}:
            indexes = [i for i, vals in enumerate(new_vals) if vals["company_id"] == company]
            created = Move.with_company(company).create([new_vals[i] for i in indexes])
            for i, move in zip(indexes, created, strict=True):
                new_groups[i][1]._link(move.invoice_line_ids.sorted("id"))
            moves |= created
        moves.filtered(lambda m: m.invoice_date).action_post()

    def _link(self, lines):
        """Link each fee to its line (lines created in the fees' order)."""
        # strict=False: other modules may add invoice lines of their own to the move
        for fee, line in zip(self, lines, strict=False):
            fee.write({"fee_move_id": line.move_id.id, "fee_line_id": line.id})
