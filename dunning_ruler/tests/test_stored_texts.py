from datetime import timedelta

from odoo import SUPERUSER_ID
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestStoredTexts(DunningCommon):
    """Texts dunning stores on records (skip and failure reasons, what an event did,
    activities) are read in the reader's language, though the scheduled action that
    writes them runs as the superuser in English."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Lang = cls.env["res.lang"]
        for code in ("pt_BR", "es_ES"):
            Lang._activate_lang(code)
        cls.env.ref("base.user_root").lang = "en_US"
        for offset, pt, es in [
            (-2, "Antes do vencimento", "Antes del vencimiento"),
            (3, "Em atraso", "Vencida"),
            (10, "Final PT", "Final ES"),
            (15, "Restrição", "Restricción"),
        ]:
            level = cls._level(offset)
            level.with_context(lang="pt_BR").name = pt
            level.with_context(lang="es_ES").name = es

    def _cron_run(self, day):
        """A run as the scheduled action does it: superuser, English."""
        return (
            self.env["dunning.ruler"]
            .with_user(SUPERUSER_ID)
            .with_context(lang="en_US")
            .sudo()
            .run_dunning(as_of=day)
        )

    def _read(self, records, field, lang):
        """``field`` of ``records`` as a reader in ``lang`` reads it over RPC."""
        return [row[field] for row in records.with_context(lang=lang).read([field])]

    def test_condition_reason_in_reader_language_and_searchable(self):
        self._level(10).condition_min_invoices = 2
        self._invoice(self.customer, 100.0)
        self._cron_run(self.DUE + timedelta(days=3))
        self._cron_run(self.DUE + timedelta(days=10))
        skipped = self._events(state="skipped", level_id=self._level(10).id)
        self.assertEqual(len(skipped), 1)
        self.assertEqual(
            self._read(skipped, "failure_reason", "en_US"),
            ["Condition not met: 1 overdue invoice(s), 2 required."],
        )
        self.assertEqual(
            self._read(skipped, "failure_reason", "pt_BR"),
            ["Condição não atendida: 1 fatura(s) vencida(s), mínimo exigido: 2."],
        )
        self.assertEqual(
            self._read(skipped, "failure_reason", "es_ES"),
            ["Condición no cumplida: 1 factura(s) vencida(s), mínimo requerido: 2."],
        )
        # Searching in the reader's language finds it.
        Event = self.env["dunning.event"]
        self.assertEqual(
            Event.with_context(lang="pt_BR").search(
                [("failure_reason", "ilike", "Condição não atendida"), ("partner_id", "=", self.customer.id)]
            ),
            skipped,
        )

    def test_missed_levels_and_merged_message_name_levels_in_reader_language(self):
        self._invoice(self.customer, 100.0)
        # First run 12 days after the due date: "Before due", "Due today" and "Overdue"
        # are missed.
        self._cron_run(self.DUE + timedelta(days=12))
        missed = self._events(state="skipped")
        self.assertEqual(len(missed), 1)
        self.assertIn("Missed run: a higher level was due", missed.failure_reason)
        pt = self._read(missed, "failure_reason", "pt_BR")[0]
        self.assertTrue(pt.startswith("Execução perdida: uma etapa mais alta vencia ao mesmo tempo"), pt)
        self.assertIn("Antes do vencimento (", pt)
        es = self._read(missed, "failure_reason", "es_ES")[0]
        self.assertTrue(es.startswith("Ejecución perdida:"), es)
        self.assertIn("Antes del vencimiento (", es)
        # Another invoice reaching "Overdue" the day the first reaches "Final": one
        # reminder, the "Overdue" event included in it.
        self._invoice(self.customer, 50.0, due=self.DUE + timedelta(days=12))
        for day in (13, 14, 15):
            self._cron_run(self.DUE + timedelta(days=day))
        merged = self._events(level_id=self._level(3).id, channel="email", date=self.DUE + timedelta(days=15))
        self.assertTrue(merged.merged_into_id)
        self.assertEqual(self._read(merged, "message", "pt_BR"), ["<p>Incluído no lembrete “Restrição”.</p>"])
        self.assertEqual(
            self._read(merged, "message", "es_ES"), ["<p>Incluido en el recordatorio “Restricción”.</p>"]
        )
        self.assertEqual(
            self._read(merged, "message", "en_US"), ["<p>Included in the “Restrict” reminder.</p>"]
        )

    def test_failure_and_activity_texts_in_reader_language(self):
        agent = self._create_user(
            "texts_agent", "Texts agent", "dunning_ruler.group_dunning_agent", lang="pt_BR"
        )
        level = self._level(3)
        level.write(
            {
                "send_email": True,
                "create_activity": True,
                "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id,
                "activity_user_id": agent.id,
                "activity_summary": "Call the customer",
            }
        )
        level.with_context(lang="pt_BR").activity_summary = "Ligar para o cliente"
        level.with_context(lang="es_ES").activity_summary = "Llamar al cliente"
        self.customer.email = False
        self._invoice(self.customer, 100.0)
        self._cron_run(self.DUE + timedelta(days=3))
        email = self._events(level_id=level.id, channel="email")
        self.assertEqual(email.state, "failed")
        self.assertEqual(
            self._read(email, "failure_reason", "es_ES"),
            ["Customer Standard no tiene dirección de correo electrónico."],
        )
        self.assertEqual(
            self._read(email, "failure_reason", "pt_BR"), ["Customer Standard não tem endereço de e-mail."]
        )
        activity_event = self._events(level_id=level.id, channel="activity")
        activity = activity_event.activity_id
        self.assertEqual(activity.user_id, agent)
        # The activity is read by its assignee: in their language, whoever reads it.
        self.assertEqual(activity.summary, "Ligar para o cliente")
        self.assertIn("1 fatura(s)", activity.with_context(lang="en_US").note)
        self.assertEqual(
            self._read(activity_event, "message", "es_ES"),
            ["<p>Actividad “Llamar al cliente” para Texts agent.</p>"],
        )
        self.assertEqual(
            self._read(activity_event, "message", "en_US"),
            ["<p>Activity “Call the customer” for Texts agent.</p>"],
        )

    def test_broken_arrangement_reason_in_reader_language(self):
        invoice = self._invoice(self.customer, 1000.0)
        plan = self.env["dunning.arrangement"].create(
            {
                "partner_id": self.customer.id,
                "date_start": self.DUE + timedelta(days=4),
                "invoice_ids": [(6, 0, invoice.ids)],
                "line_ids": [(0, 0, {"date": self.DUE + timedelta(days=10), "amount": 1000.0})],
            }
        )
        plan.action_confirm()
        self._cron_run(self.DUE + timedelta(days=11))
        self.assertEqual(plan.state, "broken")
        self.assertTrue(
            plan.with_context(lang="en_US").broken_reason.startswith("Installment of 1000.0 due on")
        )
        self.assertTrue(plan.with_context(lang="es_ES").broken_reason.startswith("Cuota de 1000.0"))
        event = self._events(channel="manual", date=self.DUE + timedelta(days=11))
        self.assertIn(
            "Acordo de pagamento descumprido: a cobrança é retomada.",
            event.with_context(lang="pt_BR").message,
        )
        self.assertIn("Convenio de pago incumplido", event.with_context(lang="es_ES").message)
        self.assertIn("Payment arrangement broken", event.with_context(lang="en_US").message)
