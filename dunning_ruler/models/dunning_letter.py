"""Letter channel: a printed dunning letter per customer and level.

The run only records the letter (event state ``done``, nothing printed yet): printing
is a batch job of the accountant, who prints every letter of a run at once.
"""

from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError


class DunningLevel(models.Model):
    _inherit = "dunning.level"

    send_letter = fields.Boolean(
        help="Prepare a printed letter listing every overdue invoice; print them in batch "
        "from the dunning events (filter “Letters to print”).",
    )

    def _get_channels(self):
        channels = super()._get_channels()
        if self.send_letter:
            # Before "action": the letter announces what the action does.
            index = channels.index("action") if "action" in channels else len(channels)
            channels.insert(index, "letter")
        return channels


class DunningEvent(models.Model):
    _inherit = "dunning.event"

    channel = fields.Selection(selection_add=[("letter", "Letter")], ondelete={"letter": "set default"})
    letter_printed_date = fields.Datetime(
        string="Letter Printed On",
        copy=False,
        readonly=True,
        help="Empty: the letter still has to be printed.",
    )

    def _dunning_send_letter(self):
        """Record the letters; they are printed in batch later, never lost if nobody prints now."""
        for event in self:
            event.message = self.env._(
                "Letter “%(level)s” ready to print: %(count)s invoice(s), %(total)s owed.",
                level=event.level_id.name,
                count=len(event.invoice_ids),
                total=event._get_total_owed_display(),
            )
        self.partner_id._message_log_batch(
            bodies={
                event.partner_id.id: self.env._("Dunning: letter “%s” to print.", event.level_id.name)
                for event in self
            }
        )

    # ------------------------------------------------------------------
    # Letter content
    # ------------------------------------------------------------------
    def _get_letter_lines_map(self):
        """{event id: open installments to list in its letter}: the installments of the
        level plus every other one of the customer overdue on the event date, read in
        one search for the whole batch."""
        if not self:
            return {}
        lines = (
            self.env["account.move.line"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("display_type", "=", "payment_term"),
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "=", "out_invoice"),
                    ("reconciled", "=", False),
                    ("date_maturity", "<=", max(self.mapped("date"))),
                ]
            )
        )
        by_key = defaultdict(lambda: lines.browse())
        for line in lines:
            by_key[(line.partner_id.id, line.company_id.id)] |= line
        result = {}
        for event in self:
            candidates = by_key[(event.partner_id.id, event.company_id.id)].filtered(
                lambda line, d=event.date: line.date_maturity <= d
            )
            own = event.line_ids.filtered(lambda line: not line.reconciled)
            result[event.id] = (candidates | own).sorted(
                lambda line: (line.date_maturity, line.move_id.name or "")
            )
        return result

    @api.model
    def _letter_totals(self, lines):
        totals = defaultdict(float)
        for line in lines:
            totals[line.currency_id] += line.amount_residual_currency
        return sorted(totals.items(), key=lambda item: item[0].name)

    def action_print_letters(self):
        """Print the letters of the selected events (one per customer and level) in one PDF."""
        letters = self.filtered(lambda e: e.channel == "letter" and e.state == "done")
        if not letters:
            raise UserError(self.env._("Select dunning events of channel “Letter” that are done."))
        letters.sudo().letter_printed_date = fields.Datetime.now()
        return self.env.ref("dunning_ruler.action_report_dunning_letter").report_action(letters)
