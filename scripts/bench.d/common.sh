# Shared by the scripts/bench-* scripts: options, the seeded database, the release build, a
# private work directory with an acc.toml, and timing helpers. Sourced; expects ROOT and NAME.

scale=40 jobs=$(nproc) rounds=1 big=0

bench_options() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --scale) scale=$2; shift 2 ;;
            --jobs) jobs=$2; shift 2 ;;
            --rounds) rounds=$2; shift 2 ;;
            --big-table) big=$2; shift 2 ;;
            -h|--help) sed -n '2,20p' "$0" | sed -n '/^#/p' | sed 's/^# \{0,1\}//'; exit 0 ;;
            *) echo "$NAME: unknown option $1" >&2; exit 2 ;;
        esac
    done
}

# Brings the sandbox up, seeds bench_s<scale> once, builds acc, writes $work/acc.toml with a
# profile "bench" (production: the bench database; staging: bench_refresh on the staging cluster).
bench_prepare() {
    "$ROOT/scripts/sandbox" up
    # shellcheck disable=SC1091
    . "$("$ROOT/scripts/sandbox" env)"
    # --big-table GB: the agency at --scale with one table of GB gigabytes beside it
    local seeded="acc sandbox seed, scale $scale"
    db=bench_s$scale
    if [ "$big" != 0 ]; then db=bench_s${scale}_big$big seeded="$seeded, big table $big GB"; fi
    url=$ACC_PROD_URL/$db
    if [ "$(psql -At "$ACC_PROD_URL/postgres" -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$db'")" != "$seeded" ]; then
        "$ROOT/scripts/sandbox" seed --scale "$scale" --database "$db" --big-table "$big"
    fi
    (cd "$ROOT" && cargo build --release --locked --quiet)
    acc=$ROOT/target/release/acc
    work=$ACC_SANDBOX/bench
    rm -rf "$work"
    mkdir -p "$work"
    chmod 700 "$work"
    local prod_port staging_port
    prod_port=${ACC_PROD_URL##*:}
    staging_port=${ACC_STAGING_URL##*:}
    cat > "$work/acc.toml" <<TOML
[profiles.bench]
region = "us-can"
store = "$work/store"
age_recipients = ["$ACC_AGE_RECIPIENT"]
[profiles.bench.production]
host = "127.0.0.1"
port = $prod_port
dbname = "$db"
user = "acc"
password_file = "$ACC_SANDBOX/secrets/pg_acc_password"
sslrootcert = "$ACC_TLS_DIR/ca.crt"
[profiles.bench.staging]
host = "127.0.0.1"
port = $staging_port
dbname = "bench_refresh"
user = "acc"
password_file = "$ACC_SANDBOX/secrets/pg_acc_password"
sslrootcert = "$ACC_TLS_DIR/ca.crt"
[profiles.bench.restore]
age_identity = "$ACC_AGE_IDENTITY"
TOML
    size=$(psql -At "$url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
    size_mb=$(psql -At "$url" -c "SELECT pg_database_size(current_database()) / 1000000")
}

# bench_cleartext CONFIG: a copy of CONFIG with sslmode = "disable" on both servers, and the
# sandbox's pg_hba.conf opened to cleartext logins by acc until the benchmark exits (then
# scripts/sandbox up writes the TLS-only file back). This measures what TLS costs in the same run.
bench_cleartext() {
    local d
    sed 's/^sslrootcert = .*/sslmode = "disable"/' "$1" > "${1%.toml}-cleartext.toml"
    for d in "$ACC_SANDBOX/pg/production" "$ACC_SANDBOX/pg/staging"; do
        grep -q '^host all acc ' "$d/pg_hba.conf" || echo "host all acc 127.0.0.1/32 scram-sha-256" >> "$d/pg_hba.conf"
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$d" reload >/dev/null
    done
    trap '"$ROOT/scripts/sandbox" up >/dev/null 2>&1' EXIT
}

# The machine's busy and total CPU time so far, in clock ticks (/proc/stat: user, nice,
# system, irq, softirq and steal are busy; idle and iowait are not).
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

timed() { # timed NAME FUNCTION: appends seconds to $work/NAME.times, busy core-seconds to NAME.cpu
    local t0 t1 b0 a0 b1 a1
    sync
    read -r b0 a0 < <(cpu_ticks)
    t0=$(date +%s.%N)
    "$2"
    t1=$(date +%s.%N)
    read -r b1 a1 < <(cpu_ticks)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}' >> "$work/$1.times"
    # the work the run made the machine do (acc, both servers, the peers' tools): on a
    # CPU-bound run, busy / cores is the least time any schedule of that work could take
    awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f\n", b / hz}' >> "$work/$1.cpu"
    echo "$NAME: $1 $(tail -1 "$work/$1.times")s, $(tail -1 "$work/$1.cpu") core-s busy ($(awk -v b="$((b1 - b0))" -v a="$((a1 - a0))" 'BEGIN {printf "%.0f", 100 * b / a}')% of $(nproc) cores)" >&2
}

bench_work() { # bench_work NAME...: each timed run's median busy core-seconds, and that over the cores
    local n w cores
    cores=$(nproc)
    printf 'work (median busy core-seconds of the whole machine; / %s cores: the least time that work allows):\n' "$cores"
    for n in "$@"; do
        w=$(median "$work/$n.cpu")
        awk -v n="$n" -v w="$w" -v c="$cores" 'BEGIN {printf "  %-20s %7.1f core-s  %6.1f s\n", n, w, w / c}'
    done
}

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
