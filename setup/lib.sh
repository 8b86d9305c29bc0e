# shellcheck shell=bash
# Shared set-up library for ./setup/run and ./setup/test.  Source it:
#     source "$(dirname "$0")/lib.sh"
# Everything here is idempotent and cheap on a second call.
#
# Environment knobs (all optional):
#   ODOO_SRC                  Odoo 19.0 community source   (default /opt/odoo)
#   DUNNING_VENV              python virtualenv            (default <repo>/.venv)
#   DUNNING_CACHE_DIR         cross-checkout cache: template filestores, locks
#                             (default ${XDG_CACHE_HOME:-~/.cache}/dunning-ruler)
#   DUNNING_EXTRA_ADDONS_PATH extra dirs (comma/colon separated) whose addons
#                             are treated like project addons
#   DUNNING_SKIP_APT=1        never apt-get install chromium / wkhtmltopdf
#   PYTHON                    interpreter used to create the venv (python3)

set -euo pipefail

DR_SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DR_SETUP_DIR/.." && pwd)"
ODOO_SRC="${ODOO_SRC:-/opt/odoo}"
DR_LOCAL="$REPO_ROOT/.local"
DR_LOG_DIR="$DR_LOCAL/logs"
DR_DATA_DIR="$DR_LOCAL/data"
ODOO_CONF="$DR_LOCAL/odoo.conf"
VENV="${DUNNING_VENV:-$REPO_ROOT/.venv}"
DR_CACHE="${DUNNING_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dunning-ruler}"
DR_HELPER="$DR_SETUP_DIR/odoo_helper.py"
# pip packages on top of Odoo's requirements.txt (changing this re-runs pip)
DR_EXTRA_PIP="phonenumbers requests pytest pytest-odoo websocket-client freezegun standardwebhooks pytest-httpserver"
# ecosystem: lint (ruff, pylint-odoo) and wheel building (whool); pinned, as in .pre-commit-config.yaml
DR_EXTRA_PIP="$DR_EXTRA_PIP ruff==0.17.6 pylint-odoo==10.0.12 whool==1.3.1"
# OCA addons installed as wheels (with --no-deps: they require a package `odoo`
# that no registry has) and their own requirements; pip puts them under
# site-packages/odoo/addons, which dr_oca_addons_dir links into the addons_path
DR_OCA_PIP="odoo-addon-queue-job==19.0.2.4.0.1"
DR_EXTRA_PIP="$DR_EXTRA_PIP openupgradelib"   # queue_job's (requests is above)
DR_VENV_LAYOUT=3   # bump to force a pip run on every checkout
DR_TMPL_RECIPE=2   # bump when the template build steps change (new template names)

export PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c synchronous_commit=off"  # faster, session-only
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ---------------------------------------------------------------- messages
dr_log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
dr_warn() { printf '\033[1;33m[setup] WARNING:\033[0m %s\n' "$*" >&2; }
dr_die() { printf '\033[1;31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
if [[ ! -t 2 ]]; then  # no colours in CI logs
    dr_log() { printf '[setup] %s\n' "$*" >&2; }
    dr_warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
    dr_die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
fi
dr_is_root() { [[ "$(id -u)" == 0 ]]; }

# ---------------------------------------------------------------- odoo source
dr_check_odoo_src() {
    if [[ ! -f "$ODOO_SRC/odoo-bin" ]]; then
        dr_die "Odoo 19.0 community source is required at ODOO_SRC=$ODOO_SRC (no odoo-bin there).
    Get it with:  git clone --depth 1 -b 19.0 https://github.com/odoo/odoo.git /opt/odoo
    or point ODOO_SRC at an existing checkout:  ODOO_SRC=/path/to/odoo $0"
    fi
    ODOO_SRC="$(cd "$ODOO_SRC" && pwd)"
}

# ---------------------------------------------------------------- postgresql
dr_pg_ok() { pg_isready -q >/dev/null 2>&1; }

dr_ensure_postgres() {
    command -v pg_isready >/dev/null || dr_die "PostgreSQL client tools not found (Debian: apt-get install postgresql)"
    if ! dr_pg_ok; then
        if ! dr_is_root; then
            dr_die "PostgreSQL does not answer on the local socket (pg_isready failed).
    Start it, e.g.  sudo pg_ctlcluster <version> main start
    and create a role for you:  sudo -u postgres createuser -s $(id -un)"
        fi
        local ver name port
        read -r ver name port _ < <(pg_lsclusters -h 2>/dev/null | head -n1) || true
        if [[ -z "${ver:-}" ]]; then
            ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
            [[ -n "$ver" ]] || dr_die "no PostgreSQL server installed (Debian: apt-get install postgresql)"
            dr_log "creating PostgreSQL cluster $ver/main"
            pg_createcluster "$ver" main >/dev/null
            name=main
        fi
        dr_log "starting PostgreSQL cluster $ver/$name"
        pg_ctlcluster "$ver" "$name" start || true
        port="$(pg_lsclusters -h | awk -v v="$ver" -v n="$name" '$1==v && $2==n {print $3}')"
        if [[ -n "$port" && "$port" != 5432 && -z "${PGPORT:-}" ]]; then export PGPORT="$port"; fi
        local _i
        for _i in $(seq 1 60); do dr_pg_ok && break; sleep 0.5; done
        dr_pg_ok || dr_die "PostgreSQL cluster $ver/$name did not start (see /var/log/postgresql/)"
    fi
    if dr_is_root; then
        local me; me="$(id -un)"
        if ! psql -X -qtA -d postgres -c 'select 1' >/dev/null 2>&1; then
            dr_log "creating PostgreSQL superuser role '$me'"
            runuser -u postgres -- psql -X -q -d postgres -c "CREATE ROLE \"$me\" SUPERUSER LOGIN" >/dev/null \
                || dr_die "could not create PostgreSQL role $me"
        fi
    fi
    psql -X -qtA -d postgres -c 'select 1' >/dev/null 2>&1 \
        || dr_die "cannot connect to PostgreSQL as '$(id -un)' over the unix socket (need a superuser/createdb role without password)"
}

dr_psql() { psql -X -qtA -v ON_ERROR_STOP=1 -d postgres "$@"; }
dr_db_exists() { [[ "$(dr_psql -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" == 1 ]]; }

# drop database $1 and its filestore in this checkout's data_dir
dr_drop_db() {
    local db="$1"
    if dr_db_exists "$db"; then
        dropdb --force --if-exists "$db"
    fi
    rm -rf "${DR_DATA_DIR:?}/filestore/$db"
}

# ---------------------------------------------------------------- venv
dr_python() {
    local py="${PYTHON:-python3}"
    command -v "$py" >/dev/null || dr_die "$py not found (Python 3.10+ required)"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || dr_die "Python 3.10+ required, $py is $("$py" -V 2>&1)"
    echo "$py"
}

dr_ensure_venv() {
    local stamp="$VENV/.dunning-stamp" has_ldap=0 has_pgconfig=0 want
    [[ -f /usr/include/ldap.h && -f /usr/include/sasl/sasl.h ]] && has_ldap=1
    command -v pg_config >/dev/null && [[ -f "$(pg_config --includedir 2>/dev/null)/libpq-fe.h" ]] && has_pgconfig=1
    # the stamp: what the venv was built from, including the interpreter path
    _dr_venv_want() {
        { cat "$ODOO_SRC/requirements.txt"; echo "$DR_EXTRA_PIP|$DR_OCA_PIP|$DR_VENV_LAYOUT|$ODOO_SRC|ldap=$has_ldap|pgc=$has_pgconfig";
          readlink -f "$VENV/bin/python" 2>/dev/null || true; } | sha256sum | cut -c1-32
    }
    want="$(_dr_venv_want)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
        return 0
    fi
    local t0=$SECONDS
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        local py; py="$(dr_python)"
        dr_log "creating virtualenv $VENV ($("$py" -V 2>&1))"
        "$py" -m venv --clear "$VENV"
        want="$(_dr_venv_want)"   # recompute: the interpreter path changed
    fi
    mkdir -p "$DR_LOCAL" "$DR_LOG_DIR"
    local reqs="$DR_LOCAL/requirements-pinned.txt"
    # Odoo's pins for python < 3.12 include sdists that no longer build: use
    # the 3.12 pins (wheels) on older interpreters.  python-ldap only serves
    # auth_ldap and needs libldap headers: installed only when they exist.
    "$VENV/bin/python" "$DR_HELPER" reqs "$ODOO_SRC/requirements.txt" --min-python 3.12 --skip python-ldap >"$reqs"
    if [[ $has_pgconfig == 0 ]]; then
        sed -i -E 's/^psycopg2==/psycopg2-binary==/' "$reqs"
    fi
    dr_log "installing python packages into $VENV (Odoo requirements + $DR_EXTRA_PIP)"
    # shellcheck disable=SC2086
    if ! "$VENV/bin/python" -m pip install --progress-bar off -r "$reqs" $DR_EXTRA_PIP >"$DR_LOG_DIR/pip.log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$DR_LOG_DIR/pip.log" | tail -n 30 >&2
        dr_die "pip install failed, see $DR_LOG_DIR/pip.log"
    fi
    dr_log "installing OCA addons into $VENV: $DR_OCA_PIP (--no-deps)"
    # shellcheck disable=SC2086
    if ! "$VENV/bin/python" -m pip install --progress-bar off --no-deps $DR_OCA_PIP >>"$DR_LOG_DIR/pip.log" 2>&1; then
        tail -n 30 "$DR_LOG_DIR/pip.log" >&2
        dr_die "pip install of $DR_OCA_PIP failed, see $DR_LOG_DIR/pip.log"
    fi
    if [[ $has_ldap == 1 ]]; then
        local ldap_pin; ldap_pin="$("$VENV/bin/python" "$DR_HELPER" reqs "$ODOO_SRC/requirements.txt" | grep -i '^python-ldap' || true)"
        [[ -n "$ldap_pin" ]] && { "$VENV/bin/python" -m pip install -q --progress-bar off "$ldap_pin" >>"$DR_LOG_DIR/pip.log" 2>&1 \
            || dr_warn "python-ldap did not build: auth_ldap unavailable (harmless)"; }
    fi
    # make `import odoo` work inside the venv (pytest-odoo needs it)
    local site; site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ODOO_SRC" >"$site/odoo_src.pth"
    "$VENV/bin/python" -c 'import odoo.release, odoo.tools, pytest_odoo' \
        || dr_die "the venv cannot import odoo / pytest_odoo"
    echo "$want" >"$stamp"
    dr_log "virtualenv ready in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- chromium / wkhtmltopdf
DR_APT_UPDATED=0
# dr_apt_install PKG... : best effort, root only; failure is remembered for a day
dr_apt_install() {
    local marker="$DR_CACHE/apt-failed-${1}"
    if [[ "${DUNNING_SKIP_APT:-0}" == 1 ]] || ! dr_is_root || ! command -v apt-get >/dev/null; then
        return 1
    fi
    if [[ -f "$marker" ]] && [[ -n "$(find "$marker" -mmin -1440 2>/dev/null)" ]]; then
        return 1
    fi
    mkdir -p "$DR_CACHE"
    if [[ $DR_APT_UPDATED == 0 ]]; then
        dr_log "apt-get update"
        apt-get -qq -o DPkg::Lock::Timeout=120 update >/dev/null 2>&1 || true
        DR_APT_UPDATED=1
    fi
    dr_log "apt-get install $*"
    if apt-get -qq -y -o DPkg::Lock::Timeout=120 install --no-install-recommends "$@" >"$DR_CACHE/apt-$1.log" 2>&1; then
        rm -f "$marker"
        return 0
    fi
    touch "$marker"
    return 1
}

dr_find_chrome() {
    local b
    for b in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$b" >/dev/null && { command -v "$b"; return 0; }
    done
    return 1
}

dr_ensure_browser() {
    if ! dr_find_chrome >/dev/null; then
        dr_apt_install chromium || true
    fi
    if ! dr_find_chrome >/dev/null; then
        dr_warn "##########################################################################"
        dr_warn "# chromium NOT available: Odoo browser tours (HttpCase.start_tour) will  #"
        dr_warn "# be SKIPPED.  Install it: apt-get install chromium                      #"
        dr_warn "##########################################################################"
    fi
    if ! command -v wkhtmltopdf >/dev/null; then
        dr_apt_install wkhtmltopdf || dr_warn "wkhtmltopdf not available: PDF reports render as HTML only (optional)"
    fi
}

# ---------------------------------------------------------------- addons / config
# project addon dirs: the repo root + DUNNING_EXTRA_ADDONS_PATH entries
dr_project_dirs() {
    local out="$REPO_ROOT" d
    IFS=',:' read -r -a _extra <<<"${DUNNING_EXTRA_ADDONS_PATH:-}"
    for d in "${_extra[@]}"; do
        [[ -n "$d" ]] && out="$out,$(cd "$d" && pwd)"
    done
    echo "$out"
}
# Odoo's addons, plus the OCA addons pip installed into the venv (queue_job)
dr_odoo_dirs() {
    local oca; oca="$(dr_oca_addons_dir)"
    echo "$ODOO_SRC/addons,$ODOO_SRC/odoo/addons${oca:+,$oca}"
}

# dr_oca_addons_dir: a directory of symlinks to the addons that wheels installed
# under the venv's site-packages/odoo/addons (Odoo, imported from ODOO_SRC, does
# not look there by itself); project addons installed as wheels are left out, so
# the repository's copy is the one Odoo loads.  Prints nothing when there is none.
dr_oca_addons_dir() {
    local site dir="$DR_LOCAL/oca-addons" d name
    [[ -x "$VENV/bin/python" ]] || return 0
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)" || return 0
    compgen -G "$site/odoo/addons/*/__manifest__.py" >/dev/null || return 0
    mkdir -p "$dir"
    find "$dir" -mindepth 1 -maxdepth 1 -xtype l -delete   # uninstalled since
    for d in "$site"/odoo/addons/*/; do
        d="${d%/}"; name="$(basename "$d")"
        [[ -f "$d/__manifest__.py" && ! -f "$REPO_ROOT/$name/__manifest__.py" ]] || continue
        [[ -L "$dir/$name" ]] || ln -sfn "$d" "$dir/$name"
    done
    compgen -G "$dir/*/__manifest__.py" >/dev/null && echo "$dir"
    return 0
}

# project addons (installable, top-level dirs with __manifest__.py), one per line;
# those depending on an addon found nowhere (e.g. queue_job, when pip could not
# install it) are left out with a warning.  Args: more --skip-dep NAME options
# (leave out the addons that depend on NAME).
dr_project_addons() {
    local dirs py=python3; dirs="$(dr_project_dirs)"
    [[ -x "$VENV/bin/python" ]] && py="$VENV/bin/python"
    # shellcheck disable=SC2086
    "$py" "$DR_HELPER" addons --odoo-dirs "$(dr_odoo_dirs)" "$@" ${dirs//,/ } | cut -f1
}

dr_write_conf() {
    mkdir -p "$DR_LOCAL" "$DR_LOG_DIR" "$DR_DATA_DIR"
    local tmp="$ODOO_CONF.tmp.$$" paths d
    paths="$(dr_odoo_dirs)"
    IFS=',' read -r -a _pdirs <<<"$(dr_project_dirs)"
    for d in "${_pdirs[@]}"; do   # Odoo warns about dirs without any addon
        compgen -G "$d/*/__manifest__.py" >/dev/null && paths="$paths,$d"
    done
    cat >"$tmp" <<EOF
; generated by setup/lib.sh -- do not edit, it is rewritten on every run
[options]
addons_path = $paths
data_dir = $DR_DATA_DIR
${PGPORT:+db_port = $PGPORT
}http_interface = ${DUNNING_HTTP_INTERFACE:-127.0.0.1}
with_demo = False
log_level = info
list_db = False
http_port = 8069
max_cron_threads = 1
limit_time_cpu = 600
limit_time_real = 1200
EOF
    if cmp -s "$tmp" "$ODOO_CONF"; then rm -f "$tmp"; else mv "$tmp" "$ODOO_CONF"; fi
}

# run odoo-bin with the project config
dr_odoo() { "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$ODOO_CONF" "$@"; }

# ---------------------------------------------------------------- template databases
# external dependencies (+ base, web) of the given project addons (all when none)
dr_template_modules() {
    "$VENV/bin/python" "$DR_HELPER" deps --odoo-dirs "$(dr_odoo_dirs)" --project-dirs "$(dr_project_dirs)" "$@"
}

# dr_ensure_template WITH_DEMO [ADDON...]: template with the external dependencies
# of the given project addons (all when none) installed.  Sets DR_TEMPLATE (db
# name; its filestore lives in $DR_CACHE/filestore/<name>) and DR_TMPL_MODULES.
dr_ensure_template() {
    local with_demo="$1"; shift
    local mods h tmpl
    mods="$(dr_template_modules "$@")"
    # the cache dir is part of the key: a template's filestore lives there, so
    # OS users with different caches never share (and clobber) a template
    h="$( { echo "$mods"; sha256sum <"$ODOO_SRC/odoo/release.py"; echo "with_demo=$with_demo";
            echo "recipe=$DR_TMPL_RECIPE cache=$DR_CACHE";
            git -C "$ODOO_SRC" rev-parse HEAD 2>/dev/null || true; } | sha256sum | cut -c1-8)"
    tmpl="dunning_tmpl_$h"
    DR_TMPL_MODULES="$(echo "$mods" | paste -sd, -)"
    DR_TEMPLATE="$tmpl"
    mkdir -p "$DR_CACHE/filestore"
    if dr_db_exists "$tmpl" && [[ -d "$DR_CACHE/filestore/$tmpl" ]]; then
        return 0
    fi
    local lock="$DR_CACHE/lock-$tmpl"
    exec {DR_LOCK_FD}>"$lock"
    if ! flock -n "$DR_LOCK_FD"; then
        dr_log "waiting for another run building template $tmpl ..."
        flock "$DR_LOCK_FD"
    fi
    if dr_db_exists "$tmpl" && [[ -d "$DR_CACHE/filestore/$tmpl" ]]; then
        flock -u "$DR_LOCK_FD"; exec {DR_LOCK_FD}>&-
        return 0
    fi
    local build="${tmpl}__build" log="$DR_LOG_DIR/template-$tmpl.log" t0=$SECONDS
    dr_log "building template database $tmpl (modules: $DR_TMPL_MODULES; demo: $with_demo) -- once per Odoo version/dependency set"
    dr_drop_db "$build"
    [[ -d "$DR_CACHE/filestore/$tmpl" ]] && rm -rf "${DR_CACHE:?}/filestore/$tmpl"
    dr_db_exists "$tmpl" && dropdb --force "$tmpl"   # db without filestore: rebuild
    local demo_flag=()
    [[ "$with_demo" == 1 ]] && demo_flag=(--with-demo)
    if ! dr_odoo -d "$build" -i "$DR_TMPL_MODULES" "${demo_flag[@]}" --stop-after-init --no-http \
            --max-cron-threads=0 --log-level=info >"$log" 2>&1; then
        grep -E ' (ERROR|CRITICAL) ' "$log" | tail -n 20 >&2 || true
        dr_die "building template $tmpl failed, see $log"
    fi
    if grep -qE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log"; then
        grep -E ' (ERROR|CRITICAL) ' "$log" | tail -n 20 >&2
        dr_die "errors while building template $tmpl, see $log"
    fi
    # pre-build the web asset bundles once: every clone reuses those whose
    # content the project addons do not change (saves ~30 s per test run
    # with browser tests, and the first page load of the demo)
    echo "env['ir.qweb']._pregenerate_assets_bundles(); env.cr.commit()" \
        | "$VENV/bin/python" "$ODOO_SRC/odoo-bin" shell -c "$ODOO_CONF" -d "$build" --no-http --max-cron-threads=0 --log-level=info >>"$log" 2>&1 \
        || dr_warn "asset pre-generation failed for $tmpl (harmless, see $log)"
    local n_ok n_want
    n_want="$(echo "$DR_TMPL_MODULES" | tr ',' '\n' | wc -l)"
    n_ok="$(dr_psql -d "$build" -c "SELECT count(*) FROM ir_module_module WHERE state = 'installed'
             AND name = ANY(string_to_array('$DR_TMPL_MODULES', ','))")"
    [[ "$n_ok" == "$n_want" ]] || dr_die "template $tmpl: only $n_ok of $n_want modules installed, see $log"
    # publish atomically: filestore first, then the database name
    mkdir -p "$DR_DATA_DIR/filestore/$build"
    mv "$DR_DATA_DIR/filestore/$build" "$DR_CACHE/filestore/$tmpl"
    dr_psql -c "ALTER DATABASE \"$build\" RENAME TO \"$tmpl\""
    flock -u "$DR_LOCK_FD"; exec {DR_LOCK_FD}>&-
    dr_log "template $tmpl built in $((SECONDS - t0))s"
    dr_prune_templates
}

# drop this cache's templates that no run has cloned for DUNNING_TEMPLATE_MAX_AGE days (14)
dr_prune_templates() {
    local dir name
    while IFS= read -r dir; do
        name="$(basename "$dir")"
        [[ "$name" == "${DR_TEMPLATE:-}" ]] && continue
        exec {DR_PRUNE_FD}>"$DR_CACHE/lock-$name"
        if flock -n "$DR_PRUNE_FD"; then
            dr_log "dropping unused template $name"
            if dr_db_exists "$name"; then dropdb --force "$name" 2>/dev/null || true; fi
            rm -rf "$dir" "$DR_CACHE/lock-$name"
        fi
        exec {DR_PRUNE_FD}>&-
    done < <(find "$DR_CACHE/filestore" -mindepth 1 -maxdepth 1 -type d -name 'dunning_tmpl_*' \
                  -mtime "+${DUNNING_TEMPLATE_MAX_AGE:-14}" 2>/dev/null)
}

# dr_clone_db TEMPLATE NEWDB : fresh copy of a template (database + filestore)
dr_clone_db() {
    local tmpl="$1" db="$2"
    dr_drop_db "$db"
    createdb -T "$tmpl" "$db"
    touch "$DR_CACHE/filestore/$tmpl"   # last use, for dr_prune_templates
    mkdir -p "$DR_DATA_DIR/filestore"
    cp -al "$DR_CACHE/filestore/$tmpl" "$DR_DATA_DIR/filestore/$db" 2>/dev/null \
        || cp -a "$DR_CACHE/filestore/$tmpl" "$DR_DATA_DIR/filestore/$db"
}

# list of project addons not in state 'installed' in DB $1 (args: addons)
dr_missing_installed() {
    local db="$1"; shift
    local csv; csv="$(printf '%s,' "$@")"; csv="${csv%,}"
    dr_psql -d "$db" -c "SELECT n FROM unnest(string_to_array('$csv', ',')) AS n
        WHERE n NOT IN (SELECT name FROM ir_module_module WHERE state = 'installed') ORDER BY n"
}

dr_free_port() {
    local want="$1"
    "$VENV/bin/python" - "$want" <<'EOF'
import socket, sys
want = int(sys.argv[1])
def free(p):
    with socket.socket() as s:
        try:
            s.bind(('0.0.0.0', p)); return True
        except OSError:
            return False
for p in range(want, want + 50):
    if free(p):
        print(p); break
else:
    with socket.socket() as s:
        s.bind(('0.0.0.0', 0)); print(s.getsockname()[1])
EOF
}

# ---------------------------------------------------------------- everything
dr_ensure_all() {
    dr_check_odoo_src
    mkdir -p "$DR_LOCAL" "$DR_LOG_DIR" "$DR_DATA_DIR" "$DR_CACHE"
    dr_ensure_postgres
    dr_ensure_venv
    dr_ensure_browser
    dr_write_conf
}
