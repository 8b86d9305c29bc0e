from collections import defaultdict

from odoo import models

from odoo.addons.dunning_ruler.tools.i18n import Format, Join, _lt, set_texts, translations

from .dunning_access_binding import TARGET_RANK


class DunningEvent(models.Model):
    _inherit = "dunning.event"

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
                    refused.setdefault(translations(self.env, reason)["en_US"], reason)
            texts[event.id] = {"message": Join("<br/>", lines)}
            if refused:
                event.state = "skipped"
                texts[event.id]["failure_reason"] = Join("; ", refused.values())
        # Texts in every language, read in the reader's (dunning_ruler/tools/i18n.py).
        set_texts(self, texts)
