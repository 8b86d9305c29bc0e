"""Shared fixtures for the top-level (cross-addon) tests in tests/.

./setup/test runs them with pytest-odoo against the freshly installed test
database, after Odoo's own addon tests:

    pytest tests/ --odoo-config .local/odoo.conf --odoo-database dunning_test --odoo-http

Odoo test classes (TransactionCase, HttpCase, ...) work as usual; plain pytest
functions can use the fixtures below.  Without --odoo-database (plain
`pytest`), every test here is skipped instead of failing on a missing server.
"""

import ast
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# queue_job starts its job runner with the server that pytest-odoo starts for HttpCase
# (it hooks Odoo's server once imported): not here. The tests start their own
# servers with their own runner (test_scale_out.py).
os.environ.setdefault("ODOO_QUEUE_JOB_CHANNELS", "root:0")


def _odoo_db(config):
    try:
        return config.getoption("--odoo-database")
    except ValueError:  # pytest-odoo not loaded
        return None


def pytest_collection_modifyitems(config, items):
    if _odoo_db(config):
        return
    skip = pytest.mark.skip(reason="needs an Odoo database: run ./setup/test")
    for item in items:
        item.add_marker(skip)


def _project_addon_dirs():
    dirs = [REPO_ROOT]
    for extra in os.environ.get("DUNNING_EXTRA_ADDONS_PATH", "").replace(":", ",").split(","):
        if extra:
            dirs.append(Path(extra))
    return dirs


@pytest.fixture(scope="session")
def project_addons():
    """{name: manifest dict} of the installable project addons."""
    found = {}
    for d in _project_addon_dirs():
        for manifest in sorted(d.glob("*/__manifest__.py")):
            data = ast.literal_eval(manifest.read_text(encoding="utf-8"))
            if data.get("installable", True):
                found.setdefault(manifest.parent.name, data)
    return found


@pytest.fixture
def odoo_env():
    """Superuser environment on the test database; rolled back afterwards."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tests.common import get_db_name

    registry = Registry(get_db_name())
    with registry.cursor() as cr:
        try:
            yield api.Environment(cr, SUPERUSER_ID, {})
        finally:
            cr.rollback()
