"""Apps list: every project addon presents itself properly and pulls in its dependencies.

Checked on the manifests (any top-level folder with a __manifest__.py) and on the
test database, where ./setup/test installed them all.
"""

import ast
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from odoo.tests.common import TransactionCase

REPO = Path(__file__).resolve().parent.parent
ADDONS = sorted(p.parent.name for p in REPO.glob("*/__manifest__.py"))
CORE = "dunning_ruler"
# How the addons are named on the Apps page: the core's name, then what the addon adds.
APP_NAMES = {
    "dunning_ruler": "Dunning Ruler",
    "dunning_ruler_sms": "Dunning Ruler: SMS and WhatsApp",
    "dunning_ruler_access": "Dunning Ruler: Platform Access",
    "dunning_ruler_queue_job": "Dunning Ruler: Queue Jobs",
}
# Addons whose Apps page has its own screenshots (taken by setup/screenshots).
WITH_SCREENSHOTS = {"dunning_ruler", "dunning_ruler_sms", "dunning_ruler_access"}
# Python libraries an addon must declare (when the addon is in the tree).
EXPECTED_PYTHON = {"dunning_ruler_sms": {"phonenumbers"}, "dunning_ruler_access": {"requests"}}


def manifest(addon):
    return ast.literal_eval((REPO / addon / "__manifest__.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("addon", ADDONS)
def test_manifest_presents_the_addon(addon):
    m = manifest(addon)
    core = manifest(CORE)
    assert re.fullmatch(r"19\.0\.\d+\.\d+\.\d+", m.get("version", "")), "version must be 19.0.x.y.z"
    if addon in APP_NAMES:
        assert m.get("name") == APP_NAMES[addon], "one naming scheme on the Apps page"
    else:
        assert m.get("name", "").startswith(core["name"] + ": "), "named “Dunning Ruler: <what it adds>”"
    summary = m.get("summary", "")
    assert 20 <= len(summary) <= 200 and "\n" not in summary, "a clear one-line summary"
    assert m.get("category", "").split("/")[0] == "Accounting"
    assert m.get("license") == core["license"] == "AGPL-3"
    assert m.get("author") == core["author"]
    assert m.get("website", "").startswith("https://")
    assert isinstance(m.get("maintainers"), list) and m["maintainers"]
    assert bool(m.get("application")) == (addon == CORE), "only the core addon is an application"
    assert "description" not in m, "the description comes from readme/ fragments"
    if addon != CORE:
        assert CORE in m.get("depends", []), f"{addon} must depend on {CORE}"
    declared = set(m.get("external_dependencies", {}).get("python", []))
    assert EXPECTED_PYTHON.get(addon, set()) <= declared
    for key in ("data", "demo", "assets"):
        files = m.get(key, [])
        files = [f for group in files.values() for f in group] if isinstance(files, dict) else files
        for f in files:
            if "*" not in f and not f.startswith(addon + "/"):
                assert (REPO / addon / f).is_file(), f"{key} file {f} does not exist"


@pytest.mark.parametrize("addon", ADDONS)
def test_description_page_icon_and_packaging_files(addon):
    root = REPO / addon
    assert (root / "readme" / "DESCRIPTION.md").is_file()
    assert (root / "readme" / "USAGE.md").is_file()
    with open(root / "static" / "description" / "icon.png", "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width == height and 128 <= width <= 512, "square icon of 128 to 512 px"
    assert 'build-backend = "whool.buildapi"' in (root / "pyproject.toml").read_text()
    if addon in WITH_SCREENSHOTS:
        shots = sorted(p.name for p in (root / "static" / "description").glob("screenshot*.png"))
        assert shots, f"{addon}'s Apps page shows it at work (setup/screenshots)"
        page = (root / "static" / "description" / "index.html").read_text(encoding="utf-8")
        for shot in shots:
            assert f'src="{shot}"' in page or shot in page, f"{shot} is not on the Apps page"


def test_generated_files_are_up_to_date():
    """README.rst and index.html match the readme/ fragments and manifests."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "setup" / "gen_addon_files.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


class TestAppsList(TransactionCase):
    # outside odoo.addons.*, Odoo does not tag the case itself
    test_tags = frozenset({"standard", "at_install"})
    test_module = "ecosystem"

    def test_apps_list_entries(self):
        self.env["ir.module.module"].update_list()  # what "Update Apps List" does
        modules = self.env["ir.module.module"].search([("name", "in", ADDONS)])
        self.assertEqual(sorted(modules.mapped("name")), ADDONS, "every addon is known to the Apps list")
        for module in modules:
            m = manifest(module.name)
            self.assertEqual(module.shortdesc, m["name"])
            self.assertEqual(module.summary, m["summary"])
            self.assertEqual(module.license, "AGPL-3")
            self.assertEqual(module.category_id.parent_id.name or module.category_id.name, "Accounting")
            self.assertEqual(module.application, module.name == CORE)
            self.assertEqual(module.icon, f"/{module.name}/static/description/icon.png")
            self.assertTrue(module.icon_image, "the icon file is served")
            # the description page is ours, sanitized HTML without markdown leftovers
            html = str(module.description_html)
            self.assertIn(m["name"], html)
            self.assertNotIn("**", html)
            if module.name != CORE:
                # installing it from the Apps list installs the core first
                self.assertIn(CORE, module.dependencies_id.mapped("name"))
                self.assertIn(CORE, module.upstream_dependencies(exclude_states=("",)).mapped("name"))
