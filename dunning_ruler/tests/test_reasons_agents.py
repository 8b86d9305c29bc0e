from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestReasonsAndAgents(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent1 = cls._create_user("agent1", "Agent One", "dunning_ruler.group_dunning_agent")
        cls.agent2 = cls._create_user("agent2", "Agent Two", "dunning_ruler.group_dunning_agent")
        cls.supervisor = cls._create_user("sup", "Sup", "dunning_ruler.group_dunning_supervisor")
        cls.clerk = cls._create_user("clerk2", "Clerk", "account.group_account_invoice")
        cls.final = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10)
        cls.final.write(
            {
                "create_activity": True,
                "activity_type_id": cls.env.ref("dunning_ruler.mail_activity_type_dunning_call").id,
                "activity_user_id": cls.env.user.id,
            }
        )

    def _log(self, user, partner, reason_xmlid, contact="call"):
        wizard = (
            self.env["dunning.reason.wizard"]
            .with_user(user)
            .create(
                {
                    "partner_id": partner.id,
                    "contact_type": contact,
                    "reason_id": self.env.ref(reason_xmlid).id,
                }
            )
        )
        wizard._onchange_partner_id()
        return wizard.action_log()

    def test_reasons_recorded_and_reported_by_grade_and_level(self):
        reasons = self.env["dunning.reason"].search([])
        self.assertGreaterEqual(len(reasons), 5)
        risky = self._create_customer("Customer Risky", grade=self.grade_risk)
        self._invoice(self.customer, 100.0)
        self._invoice(risky, 100.0)
        self._run(self.DUE + timedelta(days=3))
        event = self._log(self.agent1, self.customer, "dunning_ruler.dunning_reason_dispute")
        self.assertEqual(
            (event.grade_id, event.level_id.offset_days, event.contact_type), (self.grade_standard, 3, "call")
        )
        self._log(self.agent1, risky, "dunning_ruler.dunning_reason_financial", contact="reply")
        self._log(self.agent2, self.customer, "dunning_ruler.dunning_reason_payment_date")
        groups = self.env["dunning.event"]._read_group(
            [("reason_id", "!=", False), ("partner_id", "in", (self.customer | risky).ids)],
            ["grade_id", "level_id", "reason_id"],
            ["__count"],
        )
        report = {(g.code, lvl.name, r.code): n for g, lvl, r, n in groups}
        self.assertEqual(
            report,
            {
                ("T-STD", "Overdue", "DISPUTE"): 1,
                ("T-STD", "Overdue", "DATE"): 1,
                ("T-RISK", "Late", "FINANCIAL"): 1,
            },
        )
        with self.assertRaises(AccessError):
            self._log(self.clerk, self.customer, "dunning_ruler.dunning_reason_other")
        with self.assertRaises(AccessError):
            self.env["dunning.reason"].with_user(self.agent1).create({"name": "Mine"})
        self.env["dunning.reason"].with_user(self.supervisor).create(
            {"name": "Vehicle stolen", "code": "STOLEN"}
        )

    def test_activity_goes_to_responsible_agent(self):
        self.grade_standard.user_id = self.agent1
        self.assertEqual(self.customer.dunning_agent_id, self.agent1, "default: the grade's agent")
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=10))
        activity = self._events(channel="activity").activity_id
        self.assertEqual(
            activity.user_id, self.agent1, "the agent takes precedence over the level's assignee"
        )
        # The customer's own agent beats the grade's.
        other = self._create_customer("Customer Own Agent")
        other.dunning_user_id = self.agent2
        self._invoice(other, 100.0)
        self._run(self.DUE + timedelta(days=11))
        self.assertEqual(self._events(other, channel="activity").activity_id.user_id, self.agent2)
        # Nobody responsible: the level's assignee.
        self.grade_standard.user_id = False
        third = self._create_customer("Customer Nobody")
        self._invoice(third, 100.0)
        self._run(self.DUE + timedelta(days=12))
        self.assertEqual(self._events(third, channel="activity").activity_id.user_id, self.env.user)

    def test_scheduled_run_never_assigns_odoobot(self):
        """The scheduled action runs as the superuser (OdooBot): its activities go to the
        customer's agent, the grade's, the company's default dunning user, else nobody."""
        self.final.activity_user_id = False
        self.grade_standard.user_id = self.agent1
        quiet_grade = self.env["dunning.grade"].create(
            {"name": "No agent", "code": "T-NOAGENT", "ruler_id": self.ruler.id}
        )
        own = self._create_customer("Customer Own", grade=quiet_grade, dunning_user_id=self.agent2.id)
        nobody = self._create_customer("Customer Nobody", grade=quiet_grade)
        late = self._create_customer("Customer Late", grade=quiet_grade)
        default_user = self._create_user(
            "dunning_default", "Default Dunner", "dunning_ruler.group_dunning_agent"
        )
        self.company.dunning_activity_user_id = default_user
        for partner in (self.customer, own, nobody):
            self._invoice(partner, 100.0)
        cron_env = self.env(user=SUPERUSER_ID)
        self.assertTrue(cron_env.user._is_superuser())
        with freeze_time(self.DUE + timedelta(days=10)):
            cron_env["dunning.ruler"]._cron_run_dunning()
        self.assertEqual(self._events(channel="activity").activity_id.user_id, self.agent1, "grade's agent")
        self.assertEqual(self._events(own, channel="activity").activity_id.user_id, self.agent2)
        self.assertEqual(self._events(nobody, channel="activity").activity_id.user_id, default_user)
        # A run does not email each agent an "assigned to you" per activity (it may give
        # hundreds at once): they find them in their activities.
        assigned = self.env["mail.message"].search(
            [("message_type", "=", "user_notification"), ("partner_ids", "in", self.agent1.partner_id.ids)]
        )
        self.assertFalse(assigned)
        # No default user either: the activity is left unassigned, never given to OdooBot.
        self.company.dunning_activity_user_id = False
        self._invoice(late, 100.0)
        with freeze_time(self.DUE + timedelta(days=11)):
            cron_env["dunning.ruler"]._cron_run_dunning()
        event = self._events(late, channel="activity")
        self.assertTrue(event.activity_id)
        self.assertFalse(event.activity_id.user_id)
        self.assertIn("unassigned", event.message)

    def test_workload_and_bulk_reassign(self):
        self.grade_standard.user_id = self.agent1
        second = self._create_customer("Customer Second")
        self._invoice(self.customer, 100.0)
        self._invoice(second, 300.0)
        self._run(self.DUE + timedelta(days=10))
        self.env.flush_all()
        Workload = self.env["dunning.workload"].with_user(self.supervisor)
        rows = Workload.search([("partner_id", "in", (self.customer | second).ids)])
        self.assertEqual(rows.agent_id, self.agent1)
        self.assertEqual(sum(rows.mapped("activity_count")), 2)
        self.assertAlmostEqual(sum(rows.mapped("overdue_amount")), 400.0)
        per_agent = dict(
            Workload._read_group(
                [("partner_id", "in", (self.customer | second).ids)], ["agent_id"], ["__count"]
            )
        )
        self.assertEqual(per_agent, {self.agent1: 2})
        action = rows.action_reassign()
        wizard = (
            self.env["dunning.assign.wizard"]
            .with_user(self.supervisor)
            .with_context(**action["context"])
            .create({"user_id": self.agent2.id})
        )
        with self.assertRaises(AccessError):
            self.env["dunning.assign.wizard"].with_user(self.agent1).create(
                {"user_id": self.agent1.id, "partner_ids": [Command.set(self.customer.ids)]}
            )
        wizard.action_assign()
        self.assertEqual((self.customer | second).mapped("dunning_agent_id"), self.agent2)
        activities = (
            self._events(channel="activity").activity_id
            | self._events(second, channel="activity").activity_id
        )
        self.assertEqual(activities.user_id, self.agent2)
        self.env.flush_all()
        self.assertEqual(
            Workload.search([("partner_id", "in", (self.customer | second).ids)]).agent_id, self.agent2
        )

    def test_customer_reply_asks_agent_for_reason(self):
        self.grade_standard.user_id = self.agent1
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done", channel="email")
        self.customer.message_post(
            body="We will pay next week, the invoice went to the wrong department.",
            message_type="email",
            parent_id=event.mail_message_id.id,
            author_id=self.customer.id,
        )
        activity = self.customer.activity_ids.filtered(lambda a: "replied" in (a.summary or ""))
        self.assertEqual(activity.user_id, self.agent1)
        self.assertIn("Overdue", activity.summary)
        # A reply to something else is not a dunning reply.
        self.customer.message_post(body="Hello", message_type="email", author_id=self.customer.id)
        self.assertEqual(
            len(self.customer.activity_ids.filtered(lambda a: "replied" in (a.summary or ""))), 1
        )
