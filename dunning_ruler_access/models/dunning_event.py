from collections import defaultdict

from odoo import api, fields, models
from odoo.tools.misc import format_date

from odoo.addons.dunning_ruler.tools.i18n import Format, Join, _lt, render, set_texts

from .dunning_access_binding import TARGET_RANK

ACCESS_NOTICES = [
    ("restricted", "Restricted"),
    ("blocked", "Blocked"),
    ("will_restrict", "Restriction announced"),
    ("will_block", "Block announced"),
]


class DunningEvent(models.Model):
    _inherit = "dunning.event"

    access_notice = fields.Selection(
        ACCESS_NOTICES,
        string="Platform Access Stated",
        readonly=True,
        help="What the reminder stated about the customer's platform access: the decision taken "
        "for that customer in that run (empty: nothing).",
    )
    access_notice_date = fields.Date(
        string="Announced For",
        readonly=True,
        help="The day the announced restriction or block happens unless paid.",
    )

    @api.depends("access_notice", "access_notice_date")
    def _compute_notice_texts(self):
        return super()._compute_notice_texts()

    def _dunning_prepare_notices(self):
        """Take the platform access decision of the customers these reminders go to,
        before any renders (``dunning.access.binding._notice_decisions``, the runs'
        own decision): what each reminder states is kept on its event."""
        res = super()._dunning_prepare_notices()
        messages = self.filtered(lambda e: e.channel in self._dunning_message_channels())
        if not messages:
            return res
        bindings = (
            self.env["dunning.access.binding"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", messages.partner_id.commercial_partner_id.ids),
                    ("company_id", "in", messages.company_id.ids),
                ]
            )
        )
        if not bindings:
            return res
        to_write = defaultdict(lambda: self.browse())
        for day, events in messages.grouped("date").items():
            decisions = bindings._notice_decisions(day)
            for event in events:
                decision = decisions.get((event.partner_id.commercial_partner_id.id, event.company_id.id))
                if not decision:
                    continue
                target, next_target, next_date = decision
                if target != "active":
                    notice = target
                elif next_target:
                    notice = "will_block" if next_target == "blocked" else "will_restrict"
                else:
                    continue
                to_write[notice, next_date or False] |= event
        for (notice, day), events in to_write.items():
            events.write({"access_notice": notice, "access_notice_date": day})
        return res

    def _get_notice_service_status(self):
        status = super()._get_notice_service_status()
        notice, day = self.access_notice, self.access_notice_date
        if not notice:
            return status
        date = format_date(self.env, day) if day else ""
        if notice == "blocked":
            text = self.env._("Your access to the tracking platform is blocked until payment is received.")
        elif notice == "restricted":
            text = self.env._("Your access to the tracking platform is restricted until payment is received.")
            if day:
                text = " ".join((text, self.env._("Without payment, it will be blocked on %s.", date)))
        elif notice == "will_block":
            text = self.env._(
                "Without payment, your access to the tracking platform will be blocked on %s.", date
            )
        else:
            text = self.env._(
                "Without payment, your access to the tracking platform will be restricted on %s.", date
            )
        short = {
            "blocked": self.env._("Platform access blocked until paid."),
            "restricted": self.env._("Platform access restricted until paid."),
            "will_block": self.env._("Unpaid: platform access blocked on %s.", date),
            "will_restrict": self.env._("Unpaid: platform access restricted on %s.", date),
        }[notice]
        return {
            "code": notice,
            "short": short,
            "date": day or False,
            "text": text,
            "active": notice not in ("restricted", "blocked"),
        }

    def _dunning_action_restrict(self):
        self._dunning_access_apply("restricted")

    def _dunning_action_block(self):
        self._dunning_access_apply("blocked")

    def _dunning_access_apply(self, wanted):
        """Bring the customer's platform accounts to what the level asks, unless a guard
        says otherwise; the event tells which."""
        Binding = self.env["dunning.access.binding"].sudo()
        bindings = Binding.search(
            [
                ("partner_id", "in", self.partner_id.commercial_partner_id.ids),
                ("company_id", "in", self.company_id.ids),
            ]
        )
        by_key = defaultdict(lambda: Binding)
        for binding in bindings:
            by_key[(binding.partner_id.id, binding.company_id.id)] |= binding
        # One synchronisation per run date for all customers (a run has a single date).
        by_date = defaultdict(dict)
        for event in self:
            for binding in by_key[(event.partner_id.commercial_partner_id.id, event.company_id.id)]:
                by_date[event.date][binding] = event
        targets = {}
        for day, events in by_date.items():
            targets.update(Binding.union(*events)._sync(today=day, events=events))
        texts = {}
        for event in self:
            own = by_key[(event.partner_id.commercial_partner_id.id, event.company_id.id)]
            if not own:
                event.state = "skipped"
                texts[event.id] = {"failure_reason": _lt("The customer has no platform account to restrict.")}
                continue
            lines, refused = [], {}
            for binding in own:
                target, reason = targets.get(binding, ("active", _lt("Platform archived")))
                lines.append(
                    Format("%s (%s): %s — %s", binding.platform_id.name, binding.external_ref, target, reason)
                )
                if TARGET_RANK[target] < TARGET_RANK[wanted]:
                    refused.setdefault(render(reason, "en_US"), reason)
            texts[event.id] = {"message": Join("<br/>", lines)}
            if refused:
                event.state = "skipped"
                texts[event.id]["failure_reason"] = Join("; ", refused.values())
        # Texts in every language, read in the reader's (dunning_ruler/tools/i18n.py).
        set_texts(self, texts)
