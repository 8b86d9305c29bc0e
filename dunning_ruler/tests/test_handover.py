from datetime import timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestHandover(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agency = cls.env["res.partner"].create(
            {"name": "Collectors & Co", "email": "files@collectors.example.com"}
        )
        cls.final = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10)
        cls.final.write({"action": "handover", "handover_partner_id": cls.agency.id})

    def test_handover_marks_sends_stops_and_clears(self):
        inv1 = self._invoice(self.customer, 1000.0)
        inv2 = self._invoice(self.customer, 250.0, due=self.DUE + timedelta(days=5))
        later = self._invoice(self.customer, 80.0, due=self.DUE + timedelta(days=40))
        self._run(self.DUE + timedelta(days=10))
        event = self._events(state="done", channel="action")
        handover = event.handover_id
        self.assertEqual(handover.invoice_ids, inv1 | inv2, "every overdue invoice, not the one not yet due")
        self.assertEqual(handover.agency_id, self.agency)
        self.assertAlmostEqual(handover.amount, 1250.0)
        self.assertEqual((inv1 | inv2).dunning_handover_id, handover)
        self.assertFalse(later.dunning_handover_id)
        self.assertEqual(self.customer.dunning_handover_id, handover)
        # The summary goes to the agency, queued.
        message = handover.mail_message_id
        self.assertEqual(message.partner_ids, self.agency)
        self.assertIn(inv1.name, message.body)
        self.assertIn("1,250.00", message.body)
        self.assertEqual(
            self.env["mail.mail"].search([("mail_message_id", "=", message.id)]).state, "outgoing"
        )
        # No more reminders to the customer for handed-over invoices.
        self._run(self.DUE + timedelta(days=20))
        self.assertFalse(self._events(date=self.DUE + timedelta(days=20)))
        # Not-yet-due invoices keep their own ladder.
        self._run(self.DUE + timedelta(days=38))
        self.assertEqual(self._events(state="done", date=self.DUE + timedelta(days=38)).invoice_ids, later)
        # Cleared (traced): the invoices climb again from the level they reached.
        handover.action_clear("Agency returned the file")
        self.assertEqual(handover.state, "cleared")
        self.assertFalse((inv1 | inv2).dunning_handover_id)
        self.assertFalse(self.customer.dunning_handover_id)
        trace = self._events(channel="manual", handover_id=handover.id)
        self.assertIn("Agency returned the file", trace.message)
        self._run(self.DUE + timedelta(days=39))
        resumed = self._events(state="done", date=self.DUE + timedelta(days=39))
        self.assertEqual(resumed.invoice_ids, inv1 | inv2)
        self.assertEqual(resumed.level_id.offset_days, 30, "block level; the hand-over never fires again")

    def test_agent_sees_but_cannot_clear(self):
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=10))
        handover = self.customer.dunning_handover_id
        agent = self._create_user("agent_h", "Agent H", "dunning_ruler.group_dunning_agent")
        self.assertEqual(self.env["dunning.handover"].with_user(agent).search([]), handover)
        with self.assertRaises(AccessError):
            handover.with_user(agent).action_clear()
        with self.assertRaises(AccessError):
            handover.with_user(agent).write({"state": "cleared"})

    def test_agency_without_email_fails_the_event(self):
        self.agency.email = False
        invoice = self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=10))
        event = self._events(channel="action")
        self.assertEqual(event.state, "failed")
        self.assertIn("no email", event.failure_reason)
        self.assertTrue(
            invoice.dunning_handover_id, "handed over all the same: the agency is told by other means"
        )

    def test_handover_level_needs_an_agency(self):
        with self.assertRaises(ValidationError):
            self.final.handover_partner_id = False
