"""Benchmark `contactpoint generate`: children per second and peak memory into PostgreSQL.

    .venv/bin/python benchmarks/generate.py [--sizes 100000,1000000] [--database-url URL]

For each size the benchmark database is dropped and recreated, migrated, and filled by a fresh
process (so that each size's peak memory is its own). It prints the machine, and per size the
seconds, children per second, peak resident memory and database size, and writes the figures
as JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/contactpoint_bench"
TABLES = (
    "index_issuedcontactpointid",
    "index_child",
    "index_childfieldsource",
    "index_childname",
    "index_address",
    "index_carer",
    "index_schoolenrolment",
    "index_gpregistration",
    "index_involvement",
)


def machine() -> dict[str, Any]:
    """Cores, CPU model and memory of this machine, for reading the figures in context."""
    cpu_model = platform.processor() or "unknown"
    memory_gib = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def recreate_database(url: str) -> str:
    """Drop and create the database named in `url` through the server's `postgres` database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not parts.scheme.startswith("postgres"):
        raise SystemExit(f"--database-url must name a PostgreSQL database, not {url!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = conn.execute("SHOW server_version").fetchone()
    return str(version[0]) if version else "unknown"


def run_one(size: int, *, seed: int, authorities: str, batch_size: int) -> dict[str, Any]:
    """In a fresh process: migrate, generate `size` children and measure (DATABASE_URL set)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from tqdm import tqdm

    from contactpoint.synthetic.selectors import find_authority_codes
    from contactpoint.synthetic.services import generate_population

    call_command("migrate", verbosity=0)
    codes = find_authority_codes(authorities)
    started = time.perf_counter()
    with tqdm(total=size, unit=" children", unit_scale=True, file=sys.stderr) as bar:
        summary = generate_population(
            children=size,
            seed=seed,
            authorities=codes,
            batch_size=batch_size,
            progress=bar.update,
        )
    seconds = time.perf_counter() - started
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(TABLES)],
        )
        rows = dict(cursor.fetchall())
    return {
        "children": summary.children,
        "households": summary.households,
        "authorities": summary.authorities,
        "seconds": round(seconds, 2),
        "children_per_second": round(summary.children / seconds),
        "peak_rss_mib": round(peak_rss_mib, 1),
        "database_mib": round(database_bytes / 1024 / 1024, 1),
        "rows": {table: rows.get(table, 0) for table in TABLES},
        "rows_total": sum(rows.values()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated child counts")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated!")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--authorities", default="all")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--run-one", type=int, help=argparse.SUPPRESS)  # internal: child process
    args = parser.parse_args(argv)

    if args.run_one:
        result = run_one(
            args.run_one, seed=args.seed, authorities=args.authorities, batch_size=args.batch_size
        )
        print(json.dumps(result))
        return

    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.exit(2, f"--sizes must be whole numbers separated by commas, not {args.sizes!r}\n")
    info = machine()
    print(
        f"machine: {info['cores']} cores, {info['cpu']}, {info['memory_gib']} GiB RAM, "
        f"Python {info['python']}"
    )
    runs = []
    for size in sizes:
        server = recreate_database(args.database_url)
        print(f"\n{size:,} children into PostgreSQL {server} ({args.database_url})", flush=True)
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "CONTACTPOINT_DEBUG": "false",
        }
        completed = subprocess.run(  # noqa: S603 (this script, fixed arguments)
            [
                sys.executable,
                __file__,
                "--run-one",
                str(size),
                "--seed",
                str(args.seed),
                "--authorities",
                args.authorities,
                "--batch-size",
                str(args.batch_size),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"the {size:,}-children run failed (exit {completed.returncode})")
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["postgresql"] = server
        runs.append(result)
        print(
            f"  {result['seconds']:.1f} s, {result['children_per_second']:,} children/s, "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB, database {result['database_mib']:,.0f} "
            f"MiB, {result['rows_total']:,} rows in {result['households']:,} households",
            flush=True,
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"generate-{stamp}.json"
    path.write_text(
        json.dumps({"benchmark": "generate", "at": stamp, "machine": info, "runs": runs}, indent=2)
        + "\n"
    )
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
