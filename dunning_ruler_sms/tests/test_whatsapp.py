from freezegun import freeze_time

from odoo.tests import tagged

from .common import WORKING_HOURS, SmsDunningCommon


@tagged("post_install", "-at_install")
class TestWhatsapp(SmsDunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wa_gateway, cls.wa_double = cls._create_gateway(
            "WhatsApp",
            channel="whatsapp",
            body_template='{"phone": "{{number}}", "type": "text", '
            '"text": {"body": "{{content}}"}, "ref": "{{uuid}}"}',
        )
        cls.wa_template = cls.env["sms.template"].create(
            {
                "name": "WA overdue",
                "model_id": cls.env.ref("base.model_res_partner").id,
                "body": "{{ object.dunning_sms_company }}: {{ object.dunning_sms_amount }} "
                "due {{ object.dunning_sms_due_date }} ({{ object.dunning_sms_invoices }}) "
                "{{ object.dunning_sms_pay_url }}",
            }
        )
        # WhatsApp only on the due date level, SMS stays on.
        cls.level_due = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 0)
        cls.level_due.write({"send_whatsapp": True, "whatsapp_template_id": cls.wa_template.id})

    def setUp(self):
        super().setUp()
        self.wa_double.requests.clear()

    def test_whatsapp_goes_through_its_own_gateway_with_the_exact_sum(self):
        self.company.sudo().whatsapp_http_gateway_id = self.wa_gateway
        invoice = self._invoice(self.customer_br, 321.5)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
            self._run(self.DUE)
            self._flush_sms_queue()
        wa_event = self._sms_events(self.customer_br, channel="whatsapp")
        self.assertRecordValues(wa_event, [{"state": "done", "phone_number": "+5511912345678"}])
        self.assertIn("whatsapp", self.level_due._get_channels())
        [request] = self.wa_double.requests
        self.assertEqual(request["json"]["phone"], "+5511912345678")
        self.assertEqual(request["json"]["ref"], wa_event.sms_uuid)
        text = request["json"]["text"]["body"]
        self.assertIn("321.50", text)
        self.assertIn(invoice.name, text)
        # The link opens the customer's statement page, which works without a login.
        token = self.customer_br.sudo().dunning_statement_token
        self.assertIn(f"/my/dunning/{self.customer_br.id}?access_token={token}&company_id=", text)
        # The SMS of the same level went to the SMS gateway, once.
        self.assertEqual(len(self.gateway_double.requests), 1)
        self.assertEqual(self.gateway_double.requests[0]["json"]["channel"], "sms")
        self.assertEqual(wa_event.delivery_status, "pending")

    def test_whatsapp_quiet_hours_apply(self):
        self.company.sudo().whatsapp_http_gateway_id = self.wa_gateway
        self._invoice(self.customer_pt, 10.0)
        with freeze_time("2026-03-16 23:00:00"):
            self._run(self.DUE)
        self.assertEqual(self._sms_events(self.customer_pt, channel="whatsapp").state, "pending")
        with freeze_time("2026-03-17 08:30:00"):
            self.env["dunning.event"]._cron_release_pending_phone_messages()
            self._flush_sms_queue()
        self.assertEqual(self._sms_events(self.customer_pt, channel="whatsapp").state, "done")
        self.assertEqual(len(self.wa_double.requests), 1)

    def test_without_whatsapp_gateway_the_event_fails_and_nothing_goes_by_sms(self):
        self._invoice(self.customer_es, 10.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
            self._flush_sms_queue()
        event = self._sms_events(self.customer_es, channel="whatsapp")
        self.assertEqual(event.state, "failed")
        self.assertIn("WhatsApp gateway", event.failure_reason)
        self.assertEqual(len(self.gateway_double.requests), 1, "only the SMS")
        self.assertEqual(self._sms_events(self.customer_es).state, "done")

    def test_whatsapp_message_whose_gateway_was_removed_is_not_sent_by_sms(self):
        self.company.sudo().whatsapp_http_gateway_id = self.wa_gateway
        self._invoice(self.customer_us, 10.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
            self.company.sudo().whatsapp_http_gateway_id = False
            self._flush_sms_queue()
        event = self._sms_events(self.customer_us, channel="whatsapp")
        self.assertEqual(event.delivery_status, "exception")
        self.assertIn("No whatsapp HTTP gateway", event.delivery_failure)
        self.assertEqual([r["json"]["channel"] for r in self.gateway_double.requests], ["sms"])
        self.assertFalse(self.wa_double.requests)
