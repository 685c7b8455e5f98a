# The production and staging PostgreSQL clusters; sourced by scripts/sandbox.

# name:port pairs; the two clusters are separate servers, as in real life
pg_clusters() { printf '%s\n' "production:$PROD_PORT" "staging:$STAGING_PORT"; }

as_postgres() { runuser -u postgres -- "$@"; }

# pg_admin PORT [DB] [psql args...]: psql as the cluster's superuser over TCP, password from pgpass
pg_admin() {
    local port=$1 db=${2:-postgres}
    shift 2 || shift $#
    PGPASSFILE=$SB/secrets/pgpass PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

pg_init_cluster() { # pg_init_cluster NAME PORT
    local name=$1 port=$2 data=$SB/pg/$1
    [ -s "$data/PG_VERSION" ] && return 0
    say "initdb $name cluster"
    local pw
    pw=$(mktemp "$SB/pg/.pw.XXXXXX")
    cat "$(secret pg_admin_password)" > "$pw"
    chown postgres:postgres "$pw"
    install -d -o postgres -g postgres -m 700 "$data"
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pw" \
        --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$SB/logs/initdb-$name.log" 2>&1 \
        || { rm -f "$pw"; die "initdb failed for the $name cluster" "see $SB/logs/initdb-$name.log"; }
    rm -f "$pw"
    cat >> "$data/postgresql.conf" <<CONF

# acc sandbox: loopback only, own port and socket directory
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SB/pg/run'
password_encryption = 'scram-sha-256'
max_wal_size = '4GB'
CONF
    # pg_hba.conf (TLS only, passwords or a client certificate) is written by pg_tls_conf
}

pg_roles_and_databases() { # pg_roles_and_databases NAME PORT
    local name=$1 port=$2 p db
    local dbs=()
    for p in "${PROFILES[@]}"; do set -- $p; dbs+=("$2"); done
    {
        printf '\\set acc_pw `cat %s`\n' "$(secret pg_acc_password)"
        if [ "$name" = production ]; then
            # the application owns the schema; acc reads everything and writes only what replay needs
            echo "SELECT 'CREATE ROLE agency_owner NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agency_owner') \\gexec"
            echo "SELECT 'CREATE ROLE acc LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'acc') \\gexec"
            echo "ALTER ROLE acc PASSWORD :'acc_pw';"
            echo "GRANT pg_read_all_data, pg_write_all_data TO acc;"
            # logs in with its client certificate alone (hostssl ... cert), no password
            echo "SELECT 'CREATE ROLE acc_cert LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'acc_cert') \\gexec"
            echo "GRANT pg_read_all_data TO acc_cert;"
            for db in "${dbs[@]}"; do
                echo "SELECT 'CREATE DATABASE $db OWNER agency_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \\gexec"
                echo "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE $db TO acc;"
                echo "GRANT CONNECT ON DATABASE $db TO acc_cert;"
            done
        else
            # staging: acc builds databases, creates the reader role and swaps databases
            echo "SELECT 'CREATE ROLE acc LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'acc') \\gexec"
            echo "ALTER ROLE acc CREATEDB CREATEROLE PASSWORD :'acc_pw';"
            # pg_read_all_data: to carry preserved schemas (Data Exploration) into each refresh
            echo "GRANT pg_signal_backend, pg_read_all_data TO acc;"
            for db in "${dbs[@]}"; do
                echo "SELECT 'CREATE DATABASE $db OWNER acc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \\gexec"
            done
            # each night's copy is made from acc_template, where PUBLIC may not create large
            # objects (PostgreSQL 15 allows that even in READ ONLY; only a superuser can revoke)
            echo "SELECT 'CREATE DATABASE acc_template TEMPLATE template0 IS_TEMPLATE true' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'acc_template') \\gexec"
            echo "\\c acc_template"
            echo "REVOKE EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer) FROM PUBLIC;"
            # acc (and only acc) recreates production's large objects, with their OIDs, in each copy
            echo "GRANT EXECUTE ON FUNCTION pg_catalog.lo_create(oid) TO acc;"
        fi
    } | pg_admin "$port" postgres
}

pg_write_pgpass() {
    local pw acc f=$SB/secrets/pgpass
    pw=$(cat "$(secret pg_admin_password)")
    acc=$(cat "$(secret pg_acc_password)")
    (umask 077
     : > "$f"
     while IFS=: read -r _ port; do
         printf '127.0.0.1:%s:*:postgres:%s\n127.0.0.1:%s:*:acc:%s\n' "$port" "$pw" "$port" "$acc" >> "$f"
     done < <(pg_clusters))
}

pg_up() {
    install -d -o postgres -g postgres -m 755 "$SB/pg" "$SB/pg/run"
    if ! runuser -u postgres -- test -x "$SB/pg"; then
        die "the postgres user cannot reach $SB" "every parent directory of the work tree must be searchable (chmod o+x)"
    fi
    pg_write_pgpass
    local name port
    while IFS=: read -r name port; do
        pg_init_cluster "$name" "$port"
        pg_tls_conf "$SB/pg/$name"
        if as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" status >/dev/null 2>&1; then
            as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" reload >/dev/null
        else
            as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" -l "$SB/pg/$name.log" -w -t 60 start >/dev/null \
                || die "the $name cluster did not start" "see $SB/pg/$name.log"
        fi
        pg_roles_and_databases "$name" "$port"
    done < <(pg_clusters)
}

pg_down() {
    local name port
    while IFS=: read -r name port; do
        if [ -d "$SB/pg/$name" ] && as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" status >/dev/null 2>&1; then
            as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" -m fast -w stop >/dev/null
        fi
    done < <(pg_clusters)
}

pg_status() {
    local name port ok=0
    while IFS=: read -r name port; do
        if [ -d "$SB/pg/$name" ] && as_postgres "$PG_BIN/pg_ctl" -D "$SB/pg/$name" status >/dev/null 2>&1; then
            printf '%-11s running  127.0.0.1:%s  pid %s\n' "$name" "$port" "$(head -1 "$SB/pg/$name/postmaster.pid")"
        else
            printf '%-11s stopped  127.0.0.1:%s\n' "$name" "$port"; ok=1
        fi
    done < <(pg_clusters)
    return $ok
}
