"""pip: every addon builds (whool) into an odoo-addon-<name> wheel importable as odoo.addons.<name>.

whool packages the files known to git (``git ls-files``): stage new files before running.
"""

import ast
import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADDONS = sorted(p.parent.name for p in REPO.glob("*/__manifest__.py"))
ODOO_SRC = Path(__import__("odoo.release").release.__file__).resolve().parent.parent


def manifest(addon):
    return ast.literal_eval((REPO / addon / "__manifest__.py").read_text(encoding="utf-8"))


def pip(*args, cwd=REPO):
    env = dict(os.environ, WHOOL_POST_VERSION_STRATEGY_OVERRIDE="none", PIP_NO_INDEX="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation", "--quiet"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--wheel-dir", str(out), *[f"./{a}" for a in ADDONS])
    return {w.name.split("-")[0]: w for w in out.glob("*.whl")}


@pytest.mark.parametrize("addon", ADDONS)
def test_wheel_contents(wheels, addon):
    m = manifest(addon)
    dist = f"odoo_addon_{addon}"
    assert dist in wheels, f"no wheel for {addon}: {sorted(wheels)}"
    wheel = wheels[dist]
    assert wheel.name == f"{dist}-{m['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = email.parser.Parser().parsestr(z.read(f"{dist}-{m['version']}.dist-info/METADATA").decode())
    prefix = f"odoo/addons/{addon}/"
    expected = {
        "__init__.py",
        "__manifest__.py",
        "static/description/icon.png",
        "static/description/index.html",
    }
    expected |= {f for key in ("data", "demo") for f in m.get(key, [])}
    expected |= {str(p.relative_to(REPO / addon)) for p in (REPO / addon).glob("models/*.py")}
    expected |= {str(p.relative_to(REPO / addon)) for p in (REPO / addon).glob("i18n/*.po*")}
    missing = sorted(f for f in expected if prefix + f not in names)
    assert not missing, f"not in the wheel (not staged in git?): {missing}"
    assert prefix + "pyproject.toml" not in names
    assert meta["Name"] == f"odoo-addon-{addon}"
    assert meta["Version"] == m["version"]
    assert meta["License"] == m["license"] or "AGPL" in str(meta.get_all("Classifier"))
    requires = " ".join(meta.get_all("Requires-Dist") or [])
    assert "odoo==19.0.*" in requires.replace(" ", "") or "odoo>=19.0" in requires.replace(" ", "")
    for dep in m.get("depends", []):
        if (REPO / dep / "__manifest__.py").is_file():
            assert f"odoo-addon-{dep}" in requires
    for lib in m.get("external_dependencies", {}).get("python", []):
        assert lib in requires


def test_pip_install_makes_the_addons_importable(tmp_path):
    target = tmp_path / "site"
    pip("install", "--target", str(target), *[f"./{a}" for a in ADDONS])
    # Odoo adds its addons directories to odoo.addons at start-up (addons_path); the
    # wheels' addons import Odoo's own (account, portal...) from there.
    code = (
        "import importlib, sys\n"
        "import odoo.addons\n"
        "odoo.addons.__path__.append(%r)\n"
        "for name in sys.argv[1:]:\n"
        "    mod = importlib.import_module('odoo.addons.' + name)\n"
        "    assert mod.__file__.startswith(%r), mod.__file__\n"
        "print('ok')\n" % (str(ODOO_SRC / "addons"), str(target))
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ODOO_SRC)]))
    proc = subprocess.run(
        [sys.executable, "-c", code, *ADDONS],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr
    for addon in ADDONS:
        assert (target / "odoo" / "addons" / addon / "__manifest__.py").is_file()
