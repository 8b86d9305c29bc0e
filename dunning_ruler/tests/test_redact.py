from odoo.tests.common import BaseCase, tagged

from ..tools.redact import redact, redact_url


@tagged("post_install", "-at_install")
class TestRedact(BaseCase):
    """The one redaction of the outbound connectors (SMS gateway, access platforms)."""

    URL = "https://user:p%40ss@api.example.com:8443/hooks/s3cr3tpath?key=abc%2Fdef&v=1#frag"

    def test_url_reduced_to_scheme_host_port(self):
        self.assertEqual(redact_url(self.URL), "https://api.example.com:8443")
        self.assertEqual(redact_url("http://[::1"), "***")

    def test_secrets_and_url_pieces_masked(self):
        text = (
            f"POST {self.URL} failed; api.example.com said 401 to GET /hooks/s3cr3tpath?key=abc%2Fdef&v=1 "
            "with key abc/def, password p%40ss, Bearer tok-123456 and whsec_xyz"
        )
        out = redact(text, ["Bearer tok-123456", "tok-123456", "whsec_xyz", None], self.URL)
        for secret in ("s3cr3tpath", "abc%2Fdef", "abc/def", "p%40ss", "tok-123456", "whsec_xyz"):
            self.assertNotIn(secret, out)
        self.assertIn("api.example.com", out, "the host says where, and is no secret")
        self.assertIn("said 401", out, "pieces under four characters (the query's 1) are left alone")

    def test_empty_text(self):
        self.assertIsNone(redact(None, ["secret"]))
        self.assertEqual(redact("", ["secret"], self.URL), "")
