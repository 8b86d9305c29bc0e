import re
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged

from ..models.dunning_mail_batch import BATCHING_PARAM, ODOO_PRIVATE_API, _memoized
from .common import DunningCommon

# Columns that differ between two runs writing the same thing: new ids, the random
# part of Message-IDs (compared apart); of the clocks, only whether they are set.
RUN_SPECIFIC = {"id", "message_id", "references", "mail_message_id", "mail_mail_id"}
CLOCKS = {"create_date", "write_date", "date", "read_date"}


@tagged("post_install", "-at_install")
class TestDunningMailBatch(DunningCommon):
    """The batched email service (``dunning.mail.batch``) renders what Odoo renders
    for each reminder on its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")

    def _use_template(self, body):
        template = self.env["mail.template"].create(
            {
                "name": "Dunning test template",
                "model_id": self.env["ir.model"]._get_id("dunning.event"),
                "subject": "Reminder {{ object.partner_id.name }}",
                "lang": "{{ object.partner_id.lang }}",
                "body_html": body,
            }
        )
        self.ruler.level_ids.mail_template_id = template
        return template

    def _customers(self, *names, **vals):
        customers = self.env["res.partner"]
        for name in names:
            customer = self._create_customer(name, **vals)
            self._invoice(customer, 100.0)
            customers |= customer
        return customers

    def _sent(self, customer):
        event = self._events(customer, state="done", channel="email")
        self.assertEqual(len(event), 1, customer.name)
        return event

    def test_one_qweb_scope_per_customer(self):
        """A variable set by one customer's email is not seen by the next one's."""
        template = self._use_template(
            '<p>Dear <t t-out="object.partner_id.name"/>:'
            "<t t-if=\"object.partner_id.name == 'Scope A'\">"
            '<t t-set="secret" t-value="\'A-only\'"/></t>'
            '[<t t-out="secret"/>]</p>'
        )
        # A between two others: whatever the rendering order, someone comes after A.
        customers = self._customers("Scope B1", "Scope A", "Scope B2")
        self._run(self.DUE + timedelta(days=3))
        events = self.env["dunning.event"]
        for customer in customers:
            event = self._sent(customer)
            events |= event
            if customer.name == "Scope A":
                self.assertIn("[A-only]", event.message)
            else:
                self.assertIn("[]", event.message, customer.name)
                self.assertNotIn("A-only", event.message, f"A's variable leaked into {customer.name}'s email")
                self.assertNotIn("A-only", event.mail_message_id.body)
        # Batched rendering gives, customer by customer, what Odoo's own rendering gives.
        batched = self.env["dunning.mail.batch"]._render_bodies(template, events)
        reference = template._render_field("body_html", events.ids, compute_lang=True)
        self.assertEqual(batched, reference)

    def test_compiled_bodies_follow_edits(self):
        """Compiled bodies outlive a run (kept with Odoo's compiled views): an edited
        body, or an edited view it calls, is what the next run renders."""
        template = self._use_template(
            '<p>Before <t t-out="object.partner_id.name"/></p>'
            '<t t-call="dunning_ruler.dunning_email_invoice_table"><t t-set="event" t-value="object"/></t>'
        )
        customer = self._customers("Edit Co")
        self._run(self.DUE + timedelta(days=3))
        event = self._sent(customer)
        Batch = self.env["dunning.mail.batch"]
        self.assertIn("Before Edit Co", Batch._render_bodies(template, event)[event.id])
        template.body_html = (
            '<p>After <t t-out="object.partner_id.name"/></p>'
            '<t t-call="dunning_ruler.dunning_email_invoice_table"><t t-set="event" t-value="object"/></t>'
        )
        body = Batch._render_bodies(template, event)[event.id]
        self.assertIn("After Edit Co", body)
        self.assertNotIn("Before", body)
        view = self.env.ref("dunning_ruler.dunning_email_invoice_table")
        self.env["ir.ui.view"].create(
            {
                "name": "invoice table edited",
                "type": "qweb",
                "inherit_id": view.id,
                "arch": '<xpath expr="." position="inside"><p>Edited table</p></xpath>',
            }
        )
        self.assertIn("Edited table", Batch._render_bodies(template, event)[event.id])

    def test_template_compiled_per_language(self):
        """The same template, rendered in two languages in one run: each its own text.

        The reminder templates call the invoice table template, whose text is
        translated: compiled once for the first language, it would be reused for
        the other."""
        table = self.env.ref("dunning_ruler.dunning_email_invoice_table")
        table.update_field_translations(
            "arch_db", {"fr_FR": {"Pay now": "Payer maintenant", "Amount due": "Montant dû"}}
        )
        english = self._customers("Lang English", lang="en_US")
        french = self._customers("Lang French", lang="fr_FR")
        english2 = self._customers("Lang English 2", lang="en_US")
        self._run(self.DUE + timedelta(days=3))
        for customer in english | english2:
            body = self._sent(customer).message
            self.assertIn("Pay now", body)
            self.assertIn("Amount due", body)
            self.assertNotIn("Payer maintenant", body)
        body = self._sent(french).message
        self.assertIn("Payer maintenant", body)
        self.assertIn("Montant dû", body)
        self.assertNotIn("Pay now", body)

    # ------------------------------------------------------------------
    # Batched path and Odoo's own path write the same records
    # ------------------------------------------------------------------
    def _values(self, records):
        """[{stored field: value}] of ``records``: ids for relations, whether clocks
        are set, run-specific columns left out (and the fields a mail.mail inherits
        from its message, compared on the message)."""
        result = []
        for record in records:
            values = {}
            for name, field in record._fields.items():
                if not field.store or field.inherited or field.type == "one2many" or name in RUN_SPECIFIC:
                    continue
                value = record[name]
                if name in CLOCKS:
                    value = bool(value)
                values[name] = tuple(value.ids) if field.relational else value
            result.append(values)
        return result

    def _normalise_message_id(self, message_id):
        """A Message-ID without its random and time parts (<random.time-openerp-...>)."""
        return re.sub(r"^<[0-9.]+-", "<", message_id or "")

    def _snapshot(self, customers, since):
        """What a run writes for ``customers``, as plain values; the run is rolled back."""
        savepoint = self.env.cr.savepoint()
        try:
            self._run(self.DUE + timedelta(days=3))
            self.env.flush_all()
            snapshot = {}
            for customer in customers:
                events = self._events(customer).sorted(lambda e: (e.level_id.offset_days, e.channel))
                message = events.mail_message_id
                mail = self.env["mail.mail"].sudo().search([("mail_message_id", "in", message.ids)])
                chatter = self.env["mail.message"].search(
                    [("model", "=", "res.partner"), ("res_id", "=", customer.id), ("id", ">", since)]
                )
                moves = self.env["account.move"].search([("partner_id", "=", customer.id)])
                notes = self.env["mail.message"].search(
                    [("model", "=", "account.move"), ("res_id", "in", moves.ids), ("id", ">", since)]
                )
                snapshot[customer.name] = {
                    "events": self._values(events),
                    "event message": [bool(event.mail_message_id) for event in events],
                    "mail.message": self._values(message),
                    "Message-ID": [self._normalise_message_id(m.message_id) for m in message],
                    "mail.mail": self._values(mail),
                    "References": [
                        mail.references.replace(message.message_id, "<the message>") for mail in mail
                    ],
                    "mail.notification": self._values(message.notification_ids),
                    "notified mail": [n.mail_mail_id == mail for n in message.notification_ids],
                    "chatter": self._values(chatter),
                    "invoice notes": self._values(notes),
                    "followers": self._values(customer.message_follower_ids),
                }
        finally:
            savepoint.close(rollback=True)
            self.env.invalidate_all()
        return snapshot

    def test_email_batching_setting_same_records(self):
        """``dunning_ruler.email_batching`` off: every reminder is rendered by
        ``_render_field`` and posted by ``message_post``, and the records are those of
        the batched path, field by field."""
        self.assertTrue(self.env["dunning.mail.batch"]._batching_enabled(), "on by default")
        english = self._customers("Same English", lang="en_US")
        french = self._customers("Same French", lang="fr_FR")
        billed = self._customers("Same Billed")  # reminders go to the invoicing contact
        self.env["res.partner"].create(
            {
                "name": "Billing Desk",
                "type": "invoice",
                "parent_id": billed.id,
                "email": "billing@example.com",
            }
        )
        no_email = self._customers("Same No Email", email=False)
        customers = english | french | billed | no_email
        # Tokens are set by the run when missing: the same ones for both runs.
        for move in self.env["account.move"].search([("partner_id", "in", customers.ids)]):
            move._portal_ensure_token()
        self.env["res.partner"]._dunning_set_statement_tokens(customers)  # the statement links
        since = self.env["mail.message"].search([], order="id desc", limit=1).id
        Partner = type(self.env["res.partner"])
        with patch.object(Partner, "message_post", autospec=True, side_effect=Partner.message_post) as post:
            batched = self._snapshot(customers, since)
            self.assertEqual(post.call_count, 0, "batched: no message_post")
            self.env["ir.config_parameter"].set_param(BATCHING_PARAM, "False")
            self.assertFalse(self.env["dunning.mail.batch"]._batching_enabled())
            reference = self._snapshot(customers, since)
            self.assertEqual(post.call_count, 3, "one message_post per reminder")
        for customer in customers:
            for part, values in batched[customer.name].items():
                with self.subTest(customer=customer.name, records=part):
                    self.assertEqual(values, reference[customer.name][part])
        # The records compared are those expected.
        self.assertEqual(len(batched["Same English"]["mail.mail"]), 1)
        self.assertEqual(batched["Same English"]["mail.mail"][0]["state"], "outgoing")
        self.assertEqual(len(batched["Same Billed"]["mail.notification"]), 1)
        self.assertIn("billing@example.com", batched["Same Billed"]["mail.mail"][0]["headers"])
        self.assertEqual(batched["Same No Email"]["mail.message"], [])
        self.assertIn("failed", [event["state"] for event in batched["Same No Email"]["events"]])
        self.assertTrue(batched["Same French"]["invoice notes"])

    def test_shipped_subjects_render_without_safe_eval(self):
        """The placeholders of the shipped subjects are plain field paths allowed on
        dunning.event (``mail_allowed_qweb_expressions``): Odoo renders them by
        reading the fields, not by one ``safe_eval`` each, with the same result."""
        templates = self.env["mail.template"].search([("model", "=", "dunning.event")])
        templates = templates.filtered(lambda t: t.get_external_id()[t.id].startswith("dunning_ruler."))
        self.assertGreaterEqual(len(templates), 7)
        english = self._customers("Subject English", lang="en_US")
        self.env["res.lang"]._activate_lang("pt_BR")
        portuguese = self._customers("Subject Portuguese", lang="pt_BR")
        self._run(self.DUE + timedelta(days=3))
        events = self._events(english, state="done", channel="email") | self._events(
            portuguese, state="done", channel="email"
        )
        self.assertEqual(len(events), 2)
        portuguese_event = events.filtered(lambda e: e.partner_id == portuguese)
        for template in templates:
            with self.subTest(template=template.name):
                self.assertFalse(
                    template._has_unsafe_expression_template_inline_template(
                        template.subject, "dunning.event"
                    )
                )
                fast = template._render_field("subject", events.ids, compute_lang=True)
                with patch.object(
                    type(template), "_has_unsafe_expression_template_inline_template", return_value=True
                ):
                    evaluated = template._render_field("subject", events.ids, compute_lang=True)
                self.assertEqual(fast, evaluated)
                self.assertIn(self.env.company.name, fast[events[0].id])
                self.assertIn(
                    "vencido", fast[portuguese_event.id], "the situation in the customer's language"
                )

    def test_rows_and_situation_computed_once_per_reminder(self):
        """The subject (``notice_situation``) and the body (the situation sentence, the
        invoice table) of a reminder share its rows and situation: computed once per
        reminder, not once per placeholder."""
        customers = self._customers("Once A", "Once B", "Once C")
        Event = type(self.env["dunning.event"])
        with (
            patch.object(
                Event, "_get_notice_lines", autospec=True, side_effect=Event._get_notice_lines
            ) as lines,
            patch.object(
                Event, "_get_notice_situation", autospec=True, side_effect=Event._get_notice_situation
            ) as situation,
        ):
            self._run(self.DUE + timedelta(days=3))
        sent = self.env["dunning.event"].union(
            *(self._events(c, state="done", channel="email") for c in customers)
        )
        self.assertEqual(len(sent), 3)
        self.assertEqual(lines.call_count, 3, "one table of rows per reminder")
        self.assertEqual(situation.call_count, 6, "twice per reminder (subject, body), computed once")
        for event in sent:
            self.assertIn("3 day(s) overdue", event.message)
            self.assertIn("overdue by 3 day(s)", event.mail_message_id.subject)

    def test_formatting_helpers_memoized_per_group(self):
        """The rendering context's ``format_amount`` and ``format_date``, called for
        every row, format each distinct value once, with Odoo's result."""
        calls = []

        def format_amount(amount, currency, lang_code=False):
            calls.append((amount, currency, lang_code))
            return f"{amount} {currency.name}"

        memoized = _memoized(format_amount)
        usd = self.env.ref("base.USD")
        self.assertEqual(memoized(10.0, usd), "10.0 USD")
        self.assertEqual(memoized(10.0, usd), "10.0 USD")
        self.assertEqual(memoized(10.0, usd, lang_code="fr_FR"), "10.0 USD")
        self.assertEqual(len(calls), 2, "once per distinct arguments")
        self.assertEqual(_memoized(lambda value: len(value))(["a", "b"]), 2, "unhashable: called through")
        context = self.env["mail.template"]._render_eval_context()
        fast = _memoized(context["format_amount"])
        self.assertEqual(fast(1234.5, usd), context["format_amount"](1234.5, usd))

    def test_email_batching_setting(self):
        """The setting is stored as a system parameter, on by default, and can be switched off."""
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.dunning_email_batching)
        settings.dunning_email_batching = False
        settings.execute()
        self.assertEqual(self.env["ir.config_parameter"].get_param(BATCHING_PARAM), "False")
        self.assertFalse(self.env["dunning.mail.batch"]._batching_enabled())
        self.assertFalse(self.env["res.config.settings"].create({}).dunning_email_batching)
        settings = self.env["res.config.settings"].create({"dunning_email_batching": True})
        settings.execute()
        self.assertTrue(self.env["dunning.mail.batch"]._batching_enabled())

    def test_odoo_private_api_still_exists(self):
        """Odoo's private methods the service relies on (listed in one place,
        dunning_mail_batch.ODOO_PRIVATE_API) still exist: checked after an upgrade."""
        for model, names in ODOO_PRIVATE_API.items():
            for name in names:
                with self.subTest(model=model, name=name):
                    self.assertTrue(hasattr(type(self.env[model]), name), f"{model}.{name} is gone")
