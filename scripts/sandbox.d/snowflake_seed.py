"""Loads an agency's production tables into the Snowflake emulator as warehouse tables.

Reads each table from PostgreSQL with psql's COPY into memory and posts it to the emulator's
/acc-sandbox/load endpoint: nothing is written to disk. Table and column names are upper-cased,
as Snowflake folds unquoted identifiers, and spaces become underscores ("Client Contacts" ->
CLIENT_CONTACTS). Partitions are loaded through their parent only.

usage: snowflake_seed.py --pg-port PORT --pg-db DB --url URL --database DB --schema SCHEMA [--tables a,b]
(psql reads the password from PGPASSFILE)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.parse
import urllib.request


def psql(args: argparse.Namespace, sql: str) -> bytes:
    cmd = ["/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(args.pg_port),
           "-U", "postgres", "-d", args.pg_db, "-At", "-c", sql]
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout


def tables(args: argparse.Namespace) -> list[str]:
    out = psql(args, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'agency' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY 1""")
    return [t for t in out.decode().splitlines() if t]


def columns(args: argparse.Namespace, table: str) -> list[tuple[str, str, str]]:
    """(name, select expression, Snowflake type) for each column of agency.<table>."""
    out = psql(args, f"""
        SELECT json_agg(json_build_array(column_name, data_type, numeric_precision, numeric_scale)
                        ORDER BY ordinal_position)
        FROM information_schema.columns WHERE table_schema = 'agency' AND table_name = '{table}'""")
    result = []
    for name, data_type, precision, scale in json.loads(out):
        q = '"' + name.replace('"', '""') + '"'
        expr, sftype = q, "VARCHAR"
        if data_type in ("smallint", "integer", "bigint"):
            sftype = "NUMBER(38,0)"
        elif data_type == "numeric":
            sftype = f"NUMBER({precision or 38},{scale or 0})"
        elif data_type == "date":
            sftype = "DATE"
        elif data_type == "timestamp with time zone":
            sftype = "TIMESTAMP_TZ"
        elif data_type == "timestamp without time zone":
            sftype = "TIMESTAMP_NTZ"
        elif data_type.startswith("time"):
            sftype = "TIME"
        elif data_type == "boolean":
            sftype = "BOOLEAN"
        elif data_type == "bytea":
            expr, sftype = f"encode({q}, 'hex')", "BINARY"
        elif data_type in ("json", "jsonb"):
            expr, sftype = f"{q}::text", "VARIANT"
        elif data_type == "ARRAY":
            expr, sftype = f"to_json({q})::text", "ARRAY"
        result.append((name.upper().replace(" ", "_"), expr, sftype))
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-port", required=True)
    ap.add_argument("--pg-db", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--tables", help="only these tables (comma-separated), e.g. for benchmarks")
    args = ap.parse_args()
    only = set(args.tables.split(",")) if args.tables else None
    for table in tables(args):
        if only is not None and table not in only:
            continue
        cols = columns(args, table)
        select = ", ".join(f'{expr} AS "{name}"' for name, expr, _ in cols)
        quoted = '"' + table.replace('"', '""') + '"'
        body = psql(args, f"SET TimeZone = 'UTC'; COPY (SELECT {select} FROM agency.{quoted}) TO STDOUT (FORMAT csv, HEADER)")
        query = urllib.parse.urlencode({
            "database": args.database,
            "schema": args.schema,
            "table": table.upper().replace(" ", "_"),
            "columns": json.dumps([[name, sftype] for name, _, sftype in cols]),
        })
        req = urllib.request.Request(f"{args.url}/acc-sandbox/load?{query}", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=600) as resp:
            loaded = json.loads(resp.read())
        print(f"  snowflake {loaded['table']}: {loaded['rows']} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
