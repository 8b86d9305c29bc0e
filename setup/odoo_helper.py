#!/usr/bin/env python3
"""Small helpers for the setup/ scripts (stdlib only, plus `packaging` when
generating requirements).  Sub-commands:

  addons [--odoo-dirs A,B [--skip-dep NAME]...] DIR...
                                     list project addons: "name<TAB>path"; with
                                     --odoo-dirs, only those whose dependencies
                                     are all found (others: a warning on stderr),
                                     and none that depends on a --skip-dep
  deps --odoo-dirs A,B --project-dirs C,D [ADDON...]
                                     external (non-project) dependencies of the
                                     given project addons (all if none given),
                                     one per line, sorted, plus base and web
  closure --project-dirs C,D ADDON...
                                     the given project addons plus the project
                                     addons they depend on (transitively)
  reqs REQUIREMENTS.txt [--skip NAME]... [--min-python 3.12]
                                     Odoo requirements pinned for this python:
                                     markers evaluated for max(running, min)
  parse-log LOG [--db DB]            parse an Odoo --test-enable log; prints
                                     JSON {passed, failed, errors, skipped, ...}
  pytest-junit XML                   prints "passed failed skipped" from junit xml
"""
import argparse
import ast
import json
import os
import re
import shlex
import sys


# --------------------------------------------------------------------------
# addons / manifests
# --------------------------------------------------------------------------
def _addons_in(dirs):
    """{name: path} of the addons found directly inside each dir (first wins)."""
    found = {}
    for d in dirs:
        if not d or not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.startswith('.') or name in found:
                continue
            if os.path.isfile(os.path.join(path, '__manifest__.py')):
                found[name] = path
    return found


def _manifest(path):
    with open(os.path.join(path, '__manifest__.py'), encoding='utf-8') as f:
        return ast.literal_eval(f.read())


def _split(value):
    return [p for p in re.split(r'[,:]', value or '') if p]


def cmd_addons(args):
    project = {name: path for name, path in _addons_in(args.dirs).items()
               if _manifest(path).get('installable', True)}
    if args.odoo_dirs is not None:
        odoo = _addons_in(_split(args.odoo_dirs))
        skip = set(args.skip_dep)  # left out silently, with what depends on them
        changed = True
        while changed:  # until no addon depends on one left out
            changed = False
            for name in list(project):
                _closure, external = _walk(project, [name])
                missing = sorted(external - set(odoo) - skip)
                if external & skip or missing:
                    if missing:
                        print(f'[setup] WARNING: {name} left out: {", ".join(missing)} '
                              'not in the addons path', file=sys.stderr)
                    del project[name]
                    skip.add(name)
                    changed = True
    for name, path in project.items():
        print(f'{name}\t{path}')


def _walk(project, roots):
    """Yield (project_closure, external_deps) for the roots."""
    seen, external = set(), set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in _manifest(project[name]).get('depends', []):
            if dep in project:
                stack.append(dep)
            else:
                external.add(dep)
    return seen, external


def cmd_deps(args):
    project = _addons_in(_split(args.project_dirs))
    roots = args.addons or list(project)
    unknown = [a for a in roots if a not in project]
    if unknown:
        sys.exit(f'unknown project addon(s): {", ".join(unknown)}')
    _closure, external = _walk(project, roots)
    external |= {'base', 'web'}
    odoo = _addons_in(_split(args.odoo_dirs))
    missing = sorted(m for m in external if m not in odoo)
    if missing:
        sys.exit('dependencies not found in the Odoo addons path: %s '
                 '(enterprise / third-party modules are not available)' % ', '.join(missing))
    print('\n'.join(sorted(external)))


def cmd_closure(args):
    project = _addons_in(_split(args.project_dirs))
    unknown = [a for a in args.addons if a not in project]
    if unknown:
        sys.exit(f'unknown project addon(s): {", ".join(unknown)} '
                 f'(known: {", ".join(sorted(project)) or "none"})')
    closure, _external = _walk(project, args.addons)
    print('\n'.join(sorted(closure)))


# --------------------------------------------------------------------------
# requirements
# --------------------------------------------------------------------------
def cmd_reqs(args):
    try:
        from packaging.requirements import Requirement
        from packaging.markers import default_environment
    except ImportError:  # pip always vendors packaging
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.markers import default_environment

    env = default_environment()
    want = tuple(int(x) for x in args.min_python.split('.'))
    if sys.version_info[:2] < want:
        env['python_version'] = '%d.%d' % want
        env['python_full_version'] = '%d.%d.0' % want
    skip = {s.lower().replace('_', '-') for s in args.skip}
    out = []
    with open(args.requirements, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            if req.name.lower().replace('_', '-') in skip:
                continue
            req.marker = None
            out.append(str(req))
    print('\n'.join(out))


# --------------------------------------------------------------------------
# Odoo test log parsing
# --------------------------------------------------------------------------
# 2025-01-01 10:00:00,123 4242 INFO dbname odoo.modules.loading: message
LOG_RE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ '
    r'(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|\?) (?P<db>\S+) (?P<logger>[^\s:]+): (?P<msg>.*)$')
# odoo/service/server.py + odoo/tests/result.py (__str__):
#   odoo.tests.result: 1 failed, 0 error(s) of 12 tests when loading database 'x'
RESULT_RE = re.compile(
    r"^(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<run>\d+) tests "
    r"when loading database '(?P<db>[^']*)'")
# odoo/tests/result.py addSkip: "skipped Class.method : reason"
SKIP_RE = re.compile(r'^skipped \S+ : ')
# odoo/tests/result.py logError: "FAIL: Class.method" / "ERROR: Class.method",
# "ERROR: Subtest Class.method (params)", or for class/module fixtures (which
# unittest reports without counting a test run) "ERROR: setUpClass (mod.Class)"
TESTFAIL_RE = re.compile(r'^(FAIL|ERROR): (?:Subtest )?(?P<desc>\S+)')
FIXTURE_RE = re.compile(r'^(setUpClass|tearDownClass|setUpModule|tearDownModule|_ErrorHolder)\b')
# odoo/tests/result.py log_stats: "module: N tests 1.23s 456 queries"
STATS_RE = re.compile(r'^(?P<module>\S+): (?P<n>\d+) tests (?P<t>[\d.]+)s (?P<q>\d+) queries')
# summaries of failures already counted by the result line
SUMMARY_MSGS = (
    re.compile(r'^Module \S+: \d+ failures, \d+ errors of \d+ tests'),
    re.compile(r'^At least one test failed when loading the modules\.'),
)


def parse_odoo_log(path, db=None):
    res = dict(run=0, failed=0, errors=0, skipped=0, result_line=None,
               extra_errors=[], test_logged_errors=[], test_failures=[], stats={})
    failing_tests, fixture_errors = set(), 0
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LOG_RE.match(line.rstrip('\n'))
            if not m:
                continue
            level, logger, msg = m['level'], m['logger'], m['msg']
            if logger == 'odoo.tests.result':
                r = RESULT_RE.match(msg)
                if r and (db is None or r['db'] == db):
                    res['result_line'] = msg.strip()
                    res['failed'] = int(r['failed'])
                    res['errors'] = int(r['errors'])
                    res['run'] = int(r['run'])
                continue
            if logger == 'odoo.tests.stats':
                s = STATS_RE.match(msg)
                if s:
                    res['stats'][s['module']] = int(s['n'])
                continue
            if level == 'INFO' and SKIP_RE.match(msg) and '.tests' in logger:
                res['skipped'] += 1
                continue
            if level not in ('ERROR', 'CRITICAL'):
                continue
            t = TESTFAIL_RE.match(msg)
            if t:
                res['test_failures'].append(f'{logger}: {msg}'[:300])
                if FIXTURE_RE.match(t['desc']):
                    fixture_errors += 1
                else:
                    failing_tests.add(f"{logger}:{t['desc']}")
            elif any(p.match(msg) for p in SUMMARY_MSGS):
                continue
            elif '.tests' in logger:
                # logged by/within a test without (necessarily) failing it
                res['test_logged_errors'].append(f'{level} {logger}: {msg}'[:300])
            else:
                res['extra_errors'].append(f'{level} {logger}: {msg}'[:300])
    failed = res['failed'] + res['errors']
    # error lines outside tests: module failing to load, registry crash, ...
    failed += len(res['extra_errors'])
    # errors logged by tests that Odoo did not count as failures
    if res['failed'] + res['errors'] == 0:
        failed += len(res['test_logged_errors'])
    if res['result_line'] is None:
        failed = max(failed, 1)  # Odoo never reached the end of the test run
    res['total_failed'] = failed
    # testsRun counts every started test (skipped ones too) but not fixture
    # errors; a test with several failing subtests is one failing test.
    n_failing = len(failing_tests)
    if n_failing == 0 and fixture_errors == 0:  # no detail lines (other db?)
        n_failing = res['failed'] + res['errors']
    res['passed'] = max(res['run'] - n_failing - res['skipped'], 0)
    return res


def cmd_parse_log(args):
    res = parse_odoo_log(args.log, args.db)
    if args.json:
        print(json.dumps(res))
        return
    # shell-evaluable summary on stdout, details on stderr
    for key in ('run', 'passed', 'skipped', 'failed', 'errors', 'total_failed'):
        print(f'odoo_{key}={res[key]}')
    print('odoo_result_line=' + shlex.quote(res['result_line'] or ''))
    details = []
    if res['test_failures']:
        details.append('failing tests:')
        details += ['  ' + x.splitlines()[0] for x in res['test_failures']]
    if res['extra_errors']:
        details.append('error log lines outside tests (each counts as a failure):')
        details += ['  ' + x.splitlines()[0] for x in res['extra_errors']]
    if res['test_logged_errors'] and not (res['failed'] + res['errors']):
        details.append('errors logged by tests (each counts as a failure):')
        details += ['  ' + x.splitlines()[0] for x in res['test_logged_errors']]
    if res['result_line'] is None:
        details.append("no final 'odoo.tests.result' line: Odoo did not finish the test run")
    if details:
        print('\n'.join(details), file=sys.stderr)


def cmd_pytest_junit(args):
    import xml.etree.ElementTree as ET
    root = ET.parse(args.xml).getroot()
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    tests = failures = errors = skipped = 0
    for s in suites:
        tests += int(s.get('tests', 0))
        failures += int(s.get('failures', 0))
        errors += int(s.get('errors', 0))
        skipped += int(s.get('skipped', 0))
    print(tests - failures - errors - skipped, failures + errors, skipped)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('addons'); s.add_argument('dirs', nargs='*')
    s.add_argument('--odoo-dirs'); s.add_argument('--skip-dep', action='append', default=[])
    s.set_defaults(f=cmd_addons)
    s = sub.add_parser('deps')
    s.add_argument('--odoo-dirs', required=True); s.add_argument('--project-dirs', required=True)
    s.add_argument('addons', nargs='*'); s.set_defaults(f=cmd_deps)
    s = sub.add_parser('closure')
    s.add_argument('--project-dirs', required=True); s.add_argument('addons', nargs='+')
    s.set_defaults(f=cmd_closure)
    s = sub.add_parser('reqs')
    s.add_argument('requirements'); s.add_argument('--skip', action='append', default=[])
    s.add_argument('--min-python', default='3.12'); s.set_defaults(f=cmd_reqs)
    s = sub.add_parser('parse-log'); s.add_argument('log'); s.add_argument('--db')
    s.add_argument('--json', action='store_true')
    s.set_defaults(f=cmd_parse_log)
    s = sub.add_parser('pytest-junit'); s.add_argument('xml'); s.set_defaults(f=cmd_pytest_junit)
    args = p.parse_args()
    args.f(args)


if __name__ == '__main__':
    main()
