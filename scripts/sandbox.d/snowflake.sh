# The Snowflake-protocol emulator; sourced by scripts/sandbox.

# fakesnow 0.12.1's server; snowflake-connector-python 5 crashes it at start (shared/TESTBED.md)
SNOWFLAKE_PIP=("fakesnow[server]==0.12.1" "snowflake-connector-python<5")

snowflake_venv() {
    local stamp=$SB/venv/.acc-requirements want
    want=$(printf '%s\n' "${SNOWFLAKE_PIP[@]}")
    [ -x "$SB/venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
    say "installing the Snowflake emulator (fakesnow) into $SB/venv"
    python3 -m venv "$SB/venv"
    "$SB/venv/bin/pip" install -q --disable-pip-version-check "${SNOWFLAKE_PIP[@]}" >"$SB/logs/pip.log" 2>&1 \
        || die "pip could not install the Snowflake emulator" "see $SB/logs/pip.log"
    printf '%s' "$want" > "$stamp"
}

snowflake_up() {
    snowflake_venv
    pid_alive "$SB/snowflake.pid" && return 0
    nohup "$SB/venv/bin/python" "$LIB/snowflake_emulator.py" --port "$SNOWFLAKE_PORT" \
        >>"$SB/logs/snowflake.log" 2>&1 &
    echo $! > "$SB/snowflake.pid"
    wait_for_port "$SNOWFLAKE_PORT" "the Snowflake emulator" "$SB/logs/snowflake.log"
}

snowflake_down() {
    if pid_alive "$SB/snowflake.pid"; then
        kill "$(cat "$SB/snowflake.pid")"
    fi
    rm -f "$SB/snowflake.pid"
}

snowflake_status() {
    if pid_alive "$SB/snowflake.pid" && curl -fsS "http://127.0.0.1:$SNOWFLAKE_PORT/acc-sandbox/health" >/dev/null 2>&1; then
        printf '%-11s running  http://127.0.0.1:%s  pid %s\n' snowflake "$SNOWFLAKE_PORT" "$(cat "$SB/snowflake.pid")"
    else
        printf '%-11s stopped  http://127.0.0.1:%s\n' snowflake "$SNOWFLAKE_PORT"; return 1
    fi
}
