from datetime import timedelta

from lxml import html

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningLetter(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10).send_letter = True
        cls.report = cls.env.ref("dunning_ruler.action_report_dunning_letter")
        # Otherwise printing first asks to configure the document layout.
        cls.company.external_report_layout_id = cls.env.ref("web.external_layout_standard")

    def _letters(self, partner=None):
        return self._events(partner, channel="letter")

    def _render(self, events):
        content, _type = self.env["ir.actions.report"]._render_qweb_html(self.report.report_name, events.ids)
        return html.fromstring(content)

    def test_level_channels(self):
        final = self.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10)
        self.assertEqual(final._get_channels(), ["email", "letter"])

    def test_letter_lists_every_overdue_invoice_with_exact_sums(self):
        first = self._invoice(self.customer, 1000.0)
        second = self._invoice(self.customer, 234.56, due=self.DUE + timedelta(days=4))
        not_due = self._invoice(self.customer, 99.0, due=self.DUE + timedelta(days=40))
        self._pay(first, 200.25, payment_date=self.DUE)
        self._run(self.DUE + timedelta(days=12))
        letter = self._letters()
        self.assertEqual(letter.state, "done")
        self.assertEqual(letter.level_id.name, "Final")
        self.assertFalse(letter.letter_printed_date)
        self.assertIn("ready to print", letter.message)

        doc = self._render(letter)
        rows = doc.xpath("//table[@name='dunning_letter_invoices']/tbody/tr")
        self.assertEqual([r.xpath("./td")[0].text_content().strip() for r in rows], [first.name, second.name])
        self.assertNotIn(not_due.name, doc.text_content())
        amounts = [
            a.text_content().replace("\xa0", " ").strip()
            for a in doc.xpath("//span[hasclass('o_dunning_amount')]")
        ]
        self.assertEqual(amounts, ["$ 799.75", "$ 234.56"])
        total = (
            doc.xpath("//span[hasclass('o_dunning_total')]")[0].text_content().replace("\xa0", " ").strip()
        )
        self.assertEqual(total, "$ 1,034.31")
        self.assertIn(self.customer.name, doc.text_content())

    def test_letter_in_partner_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.customer.lang = "fr_FR"
        self._invoice(self.customer, 1234.5)
        self._run(self.DUE + timedelta(days=10))
        text = self._render(self._letters()).text_content()
        # French number format (thousands separator, decimal comma) and date format.
        self.assertIn("234,50", text)
        self.assertIn("26/03/2026", text)

    def test_batch_print(self):
        other = self._create_customer("Customer Other")
        self._invoice(self.customer, 100.0)
        self._invoice(other, 200.0)
        self._run(self.DUE + timedelta(days=10))
        letters = self.env["dunning.event"].search([("channel", "=", "letter")])
        self.assertEqual(letters.partner_id, self.customer | other)
        emails = self.env["dunning.event"].search([("channel", "=", "email")])
        action = (letters | emails).action_print_letters()
        self.assertEqual(action["report_name"], "dunning_ruler.report_dunning_letter")
        self.assertEqual(sorted(action["context"]["active_ids"]), sorted(letters.ids))
        self.assertTrue(all(letters.mapped("letter_printed_date")))
        doc = self._render(letters)
        self.assertEqual(len(doc.xpath("//div[hasclass('o_dunning_letter')]")), 2)
        with self.assertRaises(UserError):
            emails.action_print_letters()
