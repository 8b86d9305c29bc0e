from datetime import datetime

from odoo.addons.dunning_ruler.tests.common import DunningCommon

from .gateway_double import GatewayDouble

# 2026-03-16 (DunningCommon.DUE, a Monday) at 15:00 UTC: inside the sending window
# from Sao Paulo (12:00) to Madrid (16:00) and New York (11:00).
WORKING_HOURS = datetime(2026, 3, 16, 15, 0)


class SmsDunningCommon(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway, cls.gateway_double = cls._create_gateway(
            "Test gateway",
            auth_header_name="Authorization",
            auth_header_value="Bearer s3cr3t",
            timeout=5,
        )
        cls.company.sudo().sms_http_gateway_id = cls.gateway
        cls.tpl_due = cls.env.ref("dunning_ruler_sms.sms_template_dunning_due_today")
        cls.tpl_overdue = cls.env.ref("dunning_ruler_sms.sms_template_dunning_overdue")
        for level in cls.ruler.level_ids | cls.ruler_strict.level_ids:
            level.write(
                {
                    "send_sms": True,
                    "sms_template_id": (cls.tpl_due if level.offset_days == 0 else cls.tpl_overdue).id,
                }
            )
        countries = {code: cls.env.ref(f"base.{code}") for code in ("br", "pt", "es", "us")}
        cls.customer_br = cls._create_customer(
            "Transportes Sao Paulo",
            country_id=countries["br"].id,
            phone="(11) 91234-5678",
            tz="America/Sao_Paulo",
        )
        cls.customer_pt = cls._create_customer(
            "Frota Lisboa",
            country_id=countries["pt"].id,
            phone="912 345 678",
            tz="Europe/Lisbon",
            lang="en_US",
        )
        cls.customer_es = cls._create_customer(
            "Flota Madrid", country_id=countries["es"].id, phone="612 34 56 78", tz="Europe/Madrid"
        )
        cls.customer_us = cls._create_customer(
            "Fleet Boston", country_id=countries["us"].id, phone="(617) 555-0123", tz="America/New_York"
        )
        cls.customer_invalid = cls._create_customer(
            "Flota Invalida", country_id=countries["es"].id, phone="12345", tz="Europe/Madrid"
        )
        cls.customer_nonumber = cls._create_customer("Fleet Without Phone", country_id=countries["us"].id)

    @classmethod
    def _create_gateway(cls, name, **vals):
        """A gateway of the test company posting to its own, new GatewayDouble:
        returns (gateway, double)."""
        double = GatewayDouble().start()
        cls.addClassCleanup(double.stop)
        gateway = (
            cls.env["sms.http.gateway"]
            .sudo()
            .create({"name": name, "company_id": cls.company.id, "url": double.url, **vals})
        )
        return gateway, double

    def setUp(self):
        super().setUp()
        self.gateway_double.requests.clear()
        self.gateway_double.answers.clear()

    def _sms_events(self, partner, channel="sms"):
        """The partner's events on ``channel``, without the lower levels a run
        records as skipped when it finds a higher one due."""
        return self.env["dunning.event"].search(
            [
                ("partner_id", "=", partner.id),
                ("channel", "=", channel),
                ("failure_reason", "not ilike", "Missed run"),
            ],
            order="date, id",
        )

    def _flush_sms_queue(self):
        """What the SMS cron does, without its commit."""
        self.env["sms.sms"].sudo().search([("state", "=", "outgoing")]).send(unlink_sent=True)
