# shellcheck shell=bash
# Sourced by ./setup/run before Odoo starts: the tracking-platform simulator
# (Traccar users API + Standard Webhooks receiver) in the background on
# 127.0.0.1, seeded with the demo customers' accounts. The demo database's
# "Traccar (simulator)" platform points at http://127.0.0.1:8329.
#   DUNNING_SIM_PORT   port of the simulator (default 8329; the demo data expects 8329)
#   DUNNING_SIM=0      do not start it
dr_start_access_simulator() {
    local port="${DUNNING_SIM_PORT:-8329}"
    local script="$REPO_ROOT/dunning_ruler_access/tests/simulator/server.py"
    local logdir="${DR_LOG_DIR:-$REPO_ROOT/.local/log}"
    local pidfile="$REPO_ROOT/.local/access-simulator.pid"
    local python="${VENV:-$REPO_ROOT/.venv}/bin/python"
    [[ "${DUNNING_SIM:-1}" == 0 || ! -f "$script" ]] && return 0
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "[run] tracking simulator already listening on 127.0.0.1:$port" >&2
        return 0
    fi
    mkdir -p "$logdir" "$(dirname "$pidfile")"
    nohup "$python" "$script" --host 127.0.0.1 --port "$port" --seed demo \
        >>"$logdir/access-simulator.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    local i
    for i in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "[run] tracking simulator on http://127.0.0.1:$port (pid $(cat "$pidfile"), log $logdir/access-simulator.log)" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "[run] warning: the tracking simulator did not start, see $logdir/access-simulator.log" >&2
    return 0
}
dr_start_access_simulator
