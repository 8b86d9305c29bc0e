from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestDunningConfiguration(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ruler = cls.env["dunning.ruler"].create({"name": "Config ruler"})

    def _level(self, offset, **vals):
        return self.env["dunning.level"].create(
            {"ruler_id": self.ruler.id, "name": f"L{offset}", "offset_days": offset, **vals}
        )

    def test_duplicate_offset(self):
        self._level(3)
        with self.assertRaisesRegex(ValidationError, "several levels at 3 days"):
            self._level(3)

    def test_duplicate_offset_in_one_create(self):
        with self.assertRaises(ValidationError):
            self.env["dunning.ruler"].create(
                {
                    "name": "Twice",
                    "level_ids": [
                        Command.create({"name": "a", "offset_days": 5}),
                        Command.create({"name": "b", "offset_days": 5}),
                    ],
                }
            )

    def test_offset_range(self):
        for offset in (-91, 366, 10000):
            with self.subTest(offset=offset), self.assertRaisesRegex(ValidationError, "between -90 and 365"):
                self._level(offset)
        self._level(-90)
        self._level(365)

    def test_negative_min_amount(self):
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            self.ruler.min_amount = -1

    def test_grade_ruler_of_another_company(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        foreign_ruler = self.env["dunning.ruler"].create({"name": "Foreign", "company_id": other.id})
        with self.assertRaisesRegex(ValidationError, "belongs to"):
            self.env["dunning.grade"].create(
                {"name": "G", "code": "G", "ruler_id": foreign_ruler.id, "company_id": self.env.company.id}
            )

    def test_default_grade_of_another_company(self):
        other = self.env["res.company"].create({"name": "Other Co 2"})
        grade = self.env["dunning.grade"].create({"name": "G", "code": "G2", "ruler_id": self.ruler.id})
        with self.assertRaises(ValidationError):
            other.dunning_default_grade_id = grade

    def test_channel_requires_its_setting(self):
        with self.assertRaisesRegex(ValidationError, "choose its template"):
            self._level(1, send_email=True)
        with self.assertRaisesRegex(ValidationError, "choose its type"):
            self._level(2, create_activity=True)

    def test_ruler_problems_reported_together(self):
        """One error lists every problem of the ruler and its levels, not only the first."""
        with self.assertRaises(ValidationError) as caught:
            self.env["dunning.ruler"].create(
                {
                    "name": "Messy",
                    "min_amount": -5,
                    "level_ids": [
                        Command.create({"name": "Twin A", "offset_days": 5}),
                        Command.create({"name": "Twin B", "offset_days": 5, "send_email": True}),
                        Command.create({"name": "Far", "offset_days": 400, "create_activity": True}),
                        Command.create({"name": "Fee", "offset_days": 20, "fee_mode": "fixed"}),
                    ],
                }
            )
        message = str(caught.exception)
        for expected in (
            "minimum balance of ruler “Messy” cannot be negative",
            "several levels at 5 days",
            "“Twin B” sends an email: choose its template",
            "“Far” must be between -90 and 365",
            "“Far” creates an activity: choose its type",
            "“Fee” charges a fixed fee: set its amount",
        ):
            self.assertIn(expected, message)
        # Editing one level of a saved ruler reports that level's problems together too.
        level = self._level(7)
        with self.assertRaises(ValidationError) as caught:
            level.write({"send_email": True, "create_activity": True, "fee_mode": "percent"})
        message = str(caught.exception)
        self.assertIn("choose its template", message)
        self.assertIn("choose its type", message)
        self.assertIn("between 0 and 100", message)

    def test_grace_days_range(self):
        with self.assertRaises(ValidationError):
            self.env["dunning.grade"].create(
                {"name": "G", "code": "G3", "ruler_id": self.ruler.id, "grace_days": -1}
            )

    def test_default_data_matches_brief(self):
        standard = self.env.ref("dunning_ruler.dunning_ruler_standard")
        self.assertEqual(standard.level_ids.mapped("offset_days"), [-2, 0, 3, 10, 15, 30])
        tones = standard.level_ids.mapped("tone")
        self.assertEqual(tones[0], "friendly")
        self.assertEqual(tones[-1], "final")
        self.assertTrue(all(standard.level_ids.mapped("send_email")))
        self.assertEqual(len(set(standard.level_ids.mapped("mail_template_id"))), 6, "one template per level")
        vip = self.env.ref("dunning_ruler.dunning_grade_vip")
        self.assertGreater(vip.grace_days, 0)
        risk = self.env.ref("dunning_ruler.dunning_grade_high_risk")
        self.assertNotEqual(risk.ruler_id, standard)
        self.assertLess(max(risk.ruler_id.level_ids.mapped("offset_days")), 30)
        self.assertEqual(
            self.env.ref("base.main_company").dunning_default_grade_id,
            self.env.ref("dunning_ruler.dunning_grade_standard"),
        )
        self.assertIn(
            "guaranteed for the next month",
            self.env.ref("dunning_ruler.mail_template_dunning_before_due").body_html,
        )
