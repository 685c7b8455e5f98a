# Seeding the fictitious agency (examples/agency) into production and Snowflake; sourced by scripts/sandbox.

cmd_seed() {
    local scale=1 only_db= big=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --scale) scale=${2:-}; shift 2 || true ;;
            --scale=*) scale=${1#*=}; shift ;;
            --database) only_db=${2:-}; shift 2 || true ;;
            --big-table) big=${2:-}; shift 2 || true ;;
            *) die "unknown seed option '$1'" "use: scripts/sandbox seed [--scale N] [--database NAME] [--big-table GB]" ;;
        esac
    done
    [[ "$scale" =~ ^[1-9][0-9]*$ ]] || die "--scale needs a positive whole number, not '$scale'"
    [[ "$big" =~ ^[0-9]+$ ]] || die "--big-table needs a whole number of gigabytes, not '$big'"
    [ -s "$SB/env" ] || die "the sandbox is not up" "run scripts/sandbox up first"
    pg_status >/dev/null && snowflake_status >/dev/null || die "the sandbox is not running" "run scripts/sandbox up"

    [ -z "$only_db" ] || [[ "$only_db" =~ ^[a-z_][a-z0-9_]*$ ]] || die "--database needs a plain lowercase name, not '$only_db'"
    local p name db region tz today
    # --database NAME: one extra production database (us-can data, no Snowflake), for benchmarks
    [ -n "$only_db" ] && PROFILES=("$only_db $only_db us-can America/Toronto")
    for p in "${PROFILES[@]}"; do
        set -- $p
        name=$1 db=$2 region=$3 tz=$4
        today=$(TZ=$tz date +%F)
        say "seeding $name: production database $db, scale $scale, visits around $today in $tz"
        pg_admin "$PROD_PORT" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
        pg_roles_and_databases production "$PROD_PORT"
        { echo "SET ROLE agency_owner;"; cat "$ROOT/examples/agency/schema.sql"; } | pg_admin "$PROD_PORT" "$db"
        { echo "SET ROLE agency_owner;"; cat "$ROOT/examples/agency/seed.sql"; } \
            | pg_admin "$PROD_PORT" "$db" -v scale="$scale" -v tz="$tz" -v region="$region" -v seed_date="$today" -o /dev/null
        # --big-table GB: one table of about GB gigabytes beside the agency (a benchmark shape)
        [ "$big" -eq 0 ] || { echo "SET ROLE agency_owner;"; cat "$ROOT/examples/agency/big_table.sql"; } \
            | pg_admin "$PROD_PORT" "$db" -v gb="$big" -o /dev/null
        pg_admin "$PROD_PORT" "$db" -c "ANALYZE"
        pg_admin "$PROD_PORT" "$db" -c "COMMENT ON DATABASE $db IS 'acc sandbox seed, scale $scale$([ "$big" -eq 0 ] || echo ", big table $big GB")'"
        [ -n "$only_db" ] && { say "seeded $db: $(pg_admin "$PROD_PORT" "$db" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"; continue; }
        PGPASSFILE=$SB/secrets/pgpass "$SB/venv/bin/python" "$LIB/snowflake_seed.py" \
            --pg-port "$PROD_PORT" --pg-db "$db" --url "http://127.0.0.1:$SNOWFLAKE_PORT" \
            --database "$(printf '%s' "$db" | tr a-z A-Z)" --schema AGENCY
        say "seeded $name: $(pg_admin "$PROD_PORT" "$db" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    done
}
