"""A Snowflake-protocol emulator for the acc sandbox: fakesnow's server, adapted so that
snowflake-connector-rs can really query it.

fakesnow 0.12 speaks enough of Snowflake's REST protocol for the Python connector, but not for
the Rust one. This adapter reuses fakesnow's request handlers and fixes three things
(see shared/TESTBED.md):

1. login fails with HTTP 500 unless the client sends a session parameter: we add an empty map;
2. SELECT results come back as Arrow, which the Rust crate rejects: we re-encode them in
   Snowflake's JSON rowset encoding (every cell a string or null), and split large results into
   an inline first partition plus gzip chunks served by URL, so the multi-chunk path is real;
3. error bodies lack data.queryId: we add one.

It also serves POST /acc-sandbox/load, used only by `scripts/sandbox seed` to bulk-load a table
from CSV held in memory (the seed never writes plaintext to disk).

Data lives in memory and is gone when the process stops.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import importlib
import io
import json
import secrets
import threading
from collections import OrderedDict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

# fakesnow/__init__ exports a function named `server`, which shadows the module of that name
fs = importlib.import_module("fakesnow.server")

# Rows per result partition. Snowflake's own partitions vary; a small value exercises the
# chunk path with modest data. Overridable with --chunk-rows.
CHUNK_ROWS = 20_000
# Results kept for chunk download, oldest evicted first.
KEPT_RESULTS = 16

_chunks: OrderedDict[str, list[bytes]] = OrderedDict()
_chunks_lock = threading.Lock()


def _rewrap(request: Request, payload: dict) -> Request:
    """A copy of the request whose body is the given JSON, gzipped if the original was."""
    body = json.dumps(payload).encode()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.compress(body)
    request._body = body  # noqa: SLF001 - starlette caches the body here
    return request


async def login_request(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    payload = json.loads(body)
    payload.setdefault("data", {})
    if not payload["data"].get("SESSION_PARAMETERS"):
        payload["data"]["SESSION_PARAMETERS"] = {"CLIENT_APP": "acc-sandbox"}
    return await fs.login_request(_rewrap(request, payload))


def _column_strings(col: pa.ChunkedArray | pa.Array, sf_type: str, scale: int) -> list:
    """One Arrow column in Snowflake's Arrow layout, as Snowflake's JSON cell strings."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_struct(t):
        # timestamps: {epoch, fraction[, timezone]}
        epoch = col.field("epoch").to_pylist()
        frac = col.field("fraction").to_pylist()
        tz = col.field("timezone").to_pylist() if t.get_field_index("timezone") >= 0 else None
        valid = col.is_valid().to_pylist()
        out = []
        for i, ok in enumerate(valid):
            # fakesnow builds the struct without a validity mask: a null shows in the children
            if not ok or epoch[i] is None:
                out.append(None)
                continue
            s = f"{epoch[i]}.{frac[i]:09d}"
            if tz is not None:
                s += f" {tz[i]}"
            out.append(s)
        return out
    if sf_type == "time":
        # nanoseconds since midnight
        return [None if v is None else f"{v // 1_000_000_000}.{v % 1_000_000_000:09d}" for v in col.to_pylist()]
    if pa.types.is_date(t):
        return pc.cast(pc.cast(col, pa.int32()), pa.string()).to_pylist()
    if pa.types.is_boolean(t):
        return [None if v is None else ("1" if v else "0") for v in col.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return [None if v is None else v.hex().upper() for v in col.to_pylist()]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in col.to_pylist()]
    if pa.types.is_floating(t):
        return [None if v is None else repr(v) for v in col.to_pylist()]
    if pa.types.is_integer(t) and scale:
        return [None if v is None else _scaled(v, scale) for v in col.to_pylist()]
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.to_pylist()
    return pc.cast(col, pa.string()).to_pylist()


def _scaled(v: int, scale: int) -> str:
    sign = "-" if v < 0 else ""
    digits = str(abs(v)).rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def _json_rows(data: dict) -> list[list]:
    raw = base64.b64decode(data["rowsetBase64"])
    table = pa.ipc.open_stream(raw).read_all()
    cols = [
        _column_strings(table.column(i), (c["type"] or "").lower(), c.get("scale") or 0)
        for i, c in enumerate(data["rowtype"])
    ]
    return [list(r) for r in zip(*cols)] if cols else []


def _partition(request: Request, data: dict, rows: list[list]) -> None:
    """Inline the first CHUNK_ROWS rows; serve the rest as gzip chunks by URL."""
    data["queryResultFormat"] = "json"
    data.pop("rowsetBase64", None)
    data["rowset"] = rows[:CHUNK_ROWS]
    rest = rows[CHUNK_ROWS:]
    data["total"] = len(rows)
    data["returned"] = len(rows)
    if not rest:
        return
    key = secrets.token_urlsafe(16)
    bodies, meta = [], []
    base = f"{request.url.scheme}://{request.url.netloc}/acc-chunks/{key}"
    for n, start in enumerate(range(0, len(rest), CHUNK_ROWS)):
        part = rest[start : start + CHUNK_ROWS]
        # a remote chunk is the rows without the enclosing brackets: [..],[..]
        text = json.dumps(part)[1:-1].encode()
        packed = gzip.compress(text, compresslevel=1)
        bodies.append(packed)
        meta.append(
            {
                "url": f"{base}/{n}",
                "rowCount": len(part),
                "uncompressedSize": len(text),
                "compressedSize": len(packed),
            }
        )
    with _chunks_lock:
        _chunks[key] = bodies
        while len(_chunks) > KEPT_RESULTS:
            _chunks.popitem(last=False)
    data["chunks"] = meta
    data["chunkHeaders"] = {}


async def query_request(request: Request) -> Response:
    response = await fs.query_request(request)
    payload = json.loads(response.body)
    data = payload.get("data")
    if not payload.get("success"):
        # the Rust connector needs a query id to report the SQL error rather than a protocol error
        payload["data"] = {**(data or {}), "queryId": f"acc-sandbox-{secrets.token_hex(8)}"}
        return JSONResponse(payload, status_code=response.status_code)
    if data and data.get("queryResultFormat") == "arrow":
        rows = await run_in_threadpool(_json_rows, data) if data.get("rowsetBase64") else []
        _partition(request, data, rows)
    return JSONResponse(payload, status_code=response.status_code)


async def chunk(request: Request) -> Response:
    with _chunks_lock:
        bodies = _chunks.get(request.path_params["key"])
    n = int(request.path_params["n"])
    if bodies is None or n >= len(bodies):
        return Response(status_code=404)
    return Response(bodies[n], media_type="application/octet-stream")


async def load(request: Request) -> Response:
    """Create DATABASE.SCHEMA.TABLE from Snowflake column definitions and load CSV rows into it.

    Query: database, schema, table, columns (JSON list of [name, snowflake_type]).
    Body: CSV with a header row; BINARY columns as hex. Loaded straight into fakesnow's DuckDB.
    """
    q = request.query_params
    database, schema, table = q["database"], q["schema"], q["table"]
    columns = json.loads(q["columns"])
    body = await request.body()

    def work() -> int:
        conn = fs.shared_fs.connect(database, schema)
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}")
        cur.execute(f"USE SCHEMA {database}.{schema}")
        ddl = ", ".join(f'"{name}" {sftype}' for name, sftype in columns)
        cur.execute(f'CREATE OR REPLACE TABLE "{table}" ({ddl})')
        strings = pacsv.ConvertOptions(
            column_types={name: pa.string() for name, _ in columns},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        incoming = pacsv.read_csv(io.BytesIO(body), convert_options=strings)
        exprs = []
        for name, sftype in columns:
            if sftype.upper().startswith("BINARY"):
                exprs.append(f'unhex("{name}")')
            elif sftype.upper() in ("VARIANT", "ARRAY", "OBJECT"):
                exprs.append(f'CAST("{name}" AS JSON)')
            else:
                exprs.append(f'"{name}"')
        duck = fs.shared_fs.duck_conn.cursor()
        duck.register("acc_incoming", incoming)
        target = f'{conn.database}.{conn.schema}."{table}"'
        duck.execute(f"INSERT INTO {target} SELECT {', '.join(exprs)} FROM acc_incoming")
        duck.unregister("acc_incoming")
        return incoming.num_rows

    rows = await run_in_threadpool(work)
    return JSONResponse({"table": f"{database}.{schema}.{table}", "rows": rows})


async def health(_request: Request) -> Response:
    return PlainTextResponse("ok")


def main() -> None:
    global CHUNK_ROWS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    args = parser.parse_args()
    CHUNK_ROWS = args.chunk_rows

    ours = {
        "/session/v1/login-request": login_request,
        "/queries/v1/query-request": query_request,
    }
    routes = [
        Route("/acc-sandbox/health", health, methods=["GET"]),
        Route("/acc-sandbox/load", load, methods=["POST"]),
        Route("/acc-chunks/{key}/{n:int}", chunk, methods=["GET"]),
    ]
    for r in fs.routes:
        routes.append(Route(r.path, ours.get(r.path, r.endpoint), methods=list(r.methods or [])))
    app = Starlette(routes=routes)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
