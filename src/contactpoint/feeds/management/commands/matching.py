"""`contactpoint matching train|dedupe|explain`: the match model's own commands.

It lives in the feeds app, not matching, because it reads feed files: feeds sits above
matching, and a matching module importing the feed parser would point a dependency upwards.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contactpoint.feeds.batch import match_records
from contactpoint.matching.model import MODEL_PATH, Thresholds, load_model
from contactpoint.matching.training import dedupe_table, features_table, train_model


def _feed_files(paths: list[Path]) -> list[Path]:
    """Files named directly, and the feed files (.csv, .jsonl) inside named directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.iterdir())
                if p.suffix in {".csv", ".jsonl"}
                and p.name != "ground_truth.csv"
                and not p.name.endswith(".report.csv")
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{path} is neither a file nor a directory")
    if not found:
        raise CommandError("no feed files found")
    return found


class Command(BaseCommand):
    help = (
        "The Fellegi-Sunter match model. Subcommands: train (re-estimate every m and u "
        "with Splink's EM on DuckDB from feed files, and write a new versioned model file), "
        "dedupe (cluster whole feed files with the model through Splink, on DuckDB or Spark), "
        "show (print the model's weights)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action", required=True, parser_class=argparse.ArgumentParser
        )
        train = sub.add_parser(
            "train",
            help="retrain the model from feed files",
            description=(
                "Read the feed files (or directories of them, such as the output of "
                "`contactpoint generate_feeds`), estimate u from random pairs and m by EM, and "
                f"write the model (default {MODEL_PATH}). Thresholds are kept from the current "
                "model unless given."
            ),
        )
        train.add_argument("paths", nargs="+", type=Path)
        train.add_argument("--output", type=Path, default=MODEL_PATH)
        train.add_argument("--version", default="", help="model version (default: today's date)")
        train.add_argument("--link-threshold", type=float)
        train.add_argument("--review-threshold", type=float)
        train.add_argument(
            "--max-pairs", type=float, default=5e6, help="random pairs for u (default 5e6)"
        )

        dedupe = sub.add_parser(
            "dedupe",
            help="cluster whole feed files (initial national load)",
            description=(
                "Score every candidate pair of the files' records with the committed model "
                "through Splink and cluster them (connected components above the link "
                "threshold). Writes unique_id,cluster_id CSV. --backend spark runs the same "
                "model on PySpark in local mode (pip install contactpoint[spark]; needs Java)."
            ),
        )
        dedupe.add_argument("paths", nargs="+", type=Path)
        dedupe.add_argument("--output", type=Path, help="clusters CSV (default standard output)")
        dedupe.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb")

        sub.add_parser("show", help="print the committed model's weights")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _train(self, options: dict[str, Any]) -> None:
        files = _feed_files(options["paths"])
        current = load_model()
        self.stderr.write(f"Reading {len(files)} feed files ...")
        table = features_table(match_records(files))
        if table.num_rows < 1000:
            raise CommandError(f"only {table.num_rows} valid records: too few to train on")
        thresholds = Thresholds(
            link=options["link_threshold"]
            if options["link_threshold"] is not None
            else current.thresholds.link,
            review=options["review_threshold"]
            if options["review_threshold"] is not None
            else current.thresholds.review,
            shield_floor=current.thresholds.shield_floor,
            rival=current.thresholds.rival,
        )
        model = train_model(
            table,
            version=options["version"] or dt.date.today().isoformat(),
            thresholds=thresholds,
            max_pairs_for_u=options["max_pairs"],
            log=lambda message: self.stderr.write(message),
        )
        model.save(options["output"])
        self.stdout.write(
            f"Model {model.version} trained on {table.num_rows:,} records: {options['output']}"
        )

    def _dedupe(self, options: dict[str, Any]) -> None:
        files = _feed_files(options["paths"])
        table = features_table(match_records(files))
        model = load_model()
        db_api = None
        data: Any = table
        if options["backend"] == "spark":
            from contactpoint.matching.spark import SparkUnavailable, local_spark_api, spark_frame

            try:
                db_api = local_spark_api()
            except SparkUnavailable as error:
                raise CommandError(str(error)) from error
            data = spark_frame(db_api.spark, table)
        result = dedupe_table(data, model, db_api=db_api)
        handle = options["output"].open("w", newline="") if options["output"] else sys.stdout
        try:
            writer = csv.writer(handle)
            writer.writerow(("unique_id", "cluster_id"))
            for unique_id, cluster in sorted(result.clusters.items()):
                writer.writerow((unique_id, cluster))
        finally:
            if options["output"]:
                handle.close()
        self.stderr.write(
            f"{table.num_rows:,} records, {result.pairs_scored:,} pairs scored, "
            f"{len(set(result.clusters.values())):,} clusters on {result.backend} "
            f"in {result.seconds:.1f}s"
        )

    def _show(self, options: dict[str, Any]) -> None:
        model = load_model()
        self.stdout.write(
            json.dumps({"version": model.version, "thresholds": model.to_json()["thresholds"]})
        )
        for name, levels in model.parameters.items():
            for label, params in levels.items():
                self.stdout.write(
                    f"{name:14} {label:30} m={params.m:.6f} u={params.u:.8f} weight={params.weight:+.2f}"
                )
