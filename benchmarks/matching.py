"""Benchmark feeds and matching: accuracy against ground truth, review share, load throughput.

    .venv/bin/python benchmarks/matching.py [--children 100000] [--workers 1] [--concurrent] [--dedupe]
        [--initial-load]

Into a fresh PostgreSQL database (default contactpoint_bench_matching), it migrates, writes the
dirty synthetic feeds of `--children` children (three sources, about 2.7 records a child, with
ground truth), registers the sources, and loads each file with `contactpoint feeds load` in a
process of its own (`--workers N` passes N to each load: validation then runs in N-1 other
processes beside matching and writing), timing it and sampling its peak memory (and the server's). `--concurrent`
loads the three sources at once, as independent sources would deliver them.

Then it scores the links against the ground truth, pairwise (every pair of source records that
are truly one child is a true pair; every pair the index put under one ContactPoint ID is a
predicted pair):

- precision = true predicted pairs / predicted pairs;
- recall = true predicted pairs / true pairs, over all records, and over the records that were
  not rejected (a rejected row is reported back to its source, not guessed at);
- the share of records sent to review, and of records rejected;
- throughput = records / seconds of loading, end to end (read, validate, match, write).

`--initial-load` loads the three files into the empty index with one `contactpoint feeds
initial-load` (the initial national load: Splink clusters written in bulk, the doubtful rest
through online matching) and scores the result the same way.

`--dedupe` also clusters the same files in one batch through Splink on DuckDB (the initial
national load path) and scores those clusters the same way. Figures are printed and written as
JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import machine, recreate_database  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/contactpoint_bench_matching"
COMMAND = str(Path(sys.executable).with_name("contactpoint"))
SOURCES = ("nw-health", "nw-education", "nw-benefit")  # in the order a national load would come


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own command)
        [COMMAND, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"contactpoint {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def postgres_rss() -> int:
    """Resident memory of every PostgreSQL process on this machine (the server's share)."""
    total = 0
    for process in psutil.process_iter(["name", "memory_info"]):
        if (process.info["name"] or "").startswith("postgres") and process.info["memory_info"]:
            total += process.info["memory_info"].rss
    return total


def tree_rss(handle: psutil.Process) -> int:
    """Resident memory of a loader and its validating processes (shared pages counted twice)."""
    total = handle.memory_info().rss
    for child in handle.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


def watch(processes: list[subprocess.Popen[str]]) -> tuple[float, dict[int, int], int]:
    """Wait for the processes; return seconds, each one's peak RSS, and the server's peak."""
    started = time.monotonic()
    peaks = dict.fromkeys((p.pid for p in processes), 0)
    server_peak = 0
    handles = {p.pid: psutil.Process(p.pid) for p in processes}
    while any(p.poll() is None for p in processes):
        for pid, handle in handles.items():
            try:
                peaks[pid] = max(peaks[pid], tree_rss(handle))
            except psutil.Error:
                continue
        server_peak = max(server_peak, postgres_rss())
        time.sleep(0.2)
    seconds = time.monotonic() - started
    for p in processes:
        if p.returncode != 0:
            raise SystemExit(f"a load failed: {p.stderr.read() if p.stderr else ''}")
    return seconds, peaks, server_peak


def start_load(
    env: dict[str, str], directory: Path, code: str, workers: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [
            COMMAND,
            "feeds",
            "load",
            str(directory / f"{code}.csv"),
            "--source",
            code,
            "--quiet",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(
    truth: dict[tuple[str, str], str], predicted: dict[tuple[str, str], Any]
) -> dict[str, Any]:
    """Pairwise precision and recall of `predicted` clusters (None: not linked) against truth."""
    cells: collections.Counter[tuple[Any, str]] = collections.Counter()
    by_predicted: collections.Counter[Any] = collections.Counter()
    by_truth: collections.Counter[str] = collections.Counter()
    for key, true_child in truth.items():
        by_truth[true_child] += 1
        cluster = predicted.get(key)
        if cluster is not None:
            by_predicted[cluster] += 1
            cells[(cluster, true_child)] += 1
    true_positive = sum(pairs(n) for n in cells.values())
    predicted_pairs = sum(pairs(n) for n in by_predicted.values())
    true_pairs = sum(pairs(n) for n in by_truth.values())
    clusters_of: dict[str, set[Any]] = collections.defaultdict(set)
    children_in: dict[Any, set[str]] = collections.defaultdict(set)
    for cluster, true_child in cells:
        clusters_of[true_child].add(cluster)
        children_in[cluster].add(true_child)
    return {
        "precision": true_positive / predicted_pairs if predicted_pairs else 1.0,
        "recall": true_positive / true_pairs if true_pairs else 1.0,
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "false_pairs": predicted_pairs - true_positive,
        "missed_pairs": true_pairs - true_positive,
        "children_split": sum(1 for c in clusters_of.values() if len(c) > 1),
        "clusters_merging_children": sum(1 for c in children_in.values() if len(c) > 1),
    }


def evaluate(url: str, directory: Path) -> dict[str, Any]:
    """Score what the loads put in the index against ground_truth.csv."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")
    import django

    django.setup()
    from contactpoint.feeds.models import LoadRow, ReviewItem, SourceRecord
    from contactpoint.synthetic.feeds import read_ground_truth

    truth = read_ground_truth(directory / "ground_truth.csv")
    linked: dict[tuple[str, str], Any] = {}
    in_review = 0
    for code, record_id, child_id, state in SourceRecord.objects.values_list(
        "source__code", "source_record_id", "child_id", "state"
    ).iterator(chunk_size=20_000):
        if state == "linked":
            linked[(code, record_id)] = child_id
        elif state == "in_review":
            in_review += 1
    # As if officers decided every review item right: linked to the candidate that holds the
    # record's true child when there is one, else a child of its own.
    children_of_truth: dict[str, set[Any]] = collections.defaultdict(set)
    for key, child_id in linked.items():
        children_of_truth[truth[key]].add(child_id)
    after_review = dict(linked)
    for code, record_id, candidates in ReviewItem.objects.filter(
        kind="incoming", status="open"
    ).values_list("source_record__source__code", "source_record__source_record_id", "candidates"):
        true_child = truth[(code, record_id)]
        offered = {c["child_id"] for c in candidates} & children_of_truth.get(true_child, set())
        after_review[(code, record_id)] = min(offered) if offered else f"new:{code}:{record_id}"
    outcomes = collections.Counter(LoadRow.objects.values_list("outcome", flat=True).iterator())
    rejected = {
        (code, record_id)
        for code, record_id in LoadRow.objects.filter(outcome="rejected").values_list(
            "load__source__code", "source_record_id"
        )
    }
    accepted_truth = {k: v for k, v in truth.items() if k not in rejected}
    records = len(truth)
    # The officers' other work a load leaves: "are these two children one?" items, and
    # children shielded as a precaution because they resemble a shielded child.
    from contactpoint.index.models import Child
    from contactpoint.shielding.models import ShieldingDecision

    possible_duplicates = ReviewItem.objects.filter(kind="possible_duplicate", status="open")
    precautions = ShieldingDecision.objects.filter(justification__contains="as a precaution")
    return {
        "possible_duplicate_items": possible_duplicates.count(),
        "shielded_as_precaution": precautions.values("child").distinct().count(),
        "shielded_children": Child.objects.filter(is_shielded=True).count(),
        "records": records,
        "children": len(set(truth.values())),
        "outcomes": dict(outcomes),
        "review_share": in_review / records,
        "rejected_share": outcomes.get("rejected", 0) / records,
        "all_records": pairwise(truth, linked),
        "accepted_records": pairwise(accepted_truth, linked),
        "after_review_decided_right": pairwise(truth, after_review),
    }


def _load_order(key: tuple[str, str], lines: dict[tuple[str, str], int]) -> tuple[int, int]:
    return (SOURCES.index(key[0]), lines.get(key, 0))


def _shown(record: Any) -> str:
    """A record's names and date of birth, for a person reading the misses."""
    names = "; ".join(f"{' '.join(n.given_words) or n.given} {n.family}" for n in record.names)
    return f"{names} ({record.date_of_birth}, {record.gender or '?'})"


def misses(directory: Path, path: Path) -> collections.Counter[str]:
    """Write every missed true pair as a JSON line, and count them by cause.

    For each pair, the record loaded later is explained against the child that holds the
    earlier one (as the index stands after the load): the blocking rule that finds that child
    now (or none), the comparison levels and weight, and the load's outcome and reason.
    """
    from contactpoint.feeds.batch import match_records
    from contactpoint.feeds.models import LoadRow, SourceRecord
    from contactpoint.matching.blocking import find_candidates, find_shielded, load_profiles
    from contactpoint.matching.decisions import decide, score_candidates
    from contactpoint.matching.model import current_model
    from contactpoint.synthetic.feeds import read_ground_truth

    model = current_model()
    truth = read_ground_truth(directory / "ground_truth.csv")
    features = dict(match_records([directory / f"{code}.csv" for code in SOURCES]))
    state: dict[tuple[str, str], tuple[Any, str]] = {
        (code, rid): (child_id, st)
        for code, rid, child_id, st in SourceRecord.objects.values_list(
            "source__code", "source_record_id", "child_id", "state"
        ).iterator(chunk_size=20_000)
    }
    rows: dict[tuple[str, str], tuple[int, str, str]] = {
        (code, rid): (line, outcome, reason)
        for code, rid, line, outcome, reason in LoadRow.objects.values_list(
            "load__source__code", "source_record_id", "line", "outcome", "reason"
        ).iterator(chunk_size=20_000)
    }
    lines = {k: v[0] for k, v in rows.items()}
    by_child: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for key, child in truth.items():
        by_child[child].append(key)
    counts: collections.Counter[str] = collections.Counter()
    with path.open("w", encoding="utf-8") as out:
        for child_key, keys in by_child.items():
            keys.sort(key=lambda k: _load_order(k, lines))
            for i, later in enumerate(keys):
                for earlier in keys[:i]:
                    e_child, _ = state.get(earlier, (None, "rejected"))
                    l_child, l_state = state.get(later, (None, "rejected"))
                    if e_child is not None and e_child == l_child:
                        continue
                    entry: dict[str, Any] = {
                        "child_key": child_key,
                        "earlier": ":".join(earlier),
                        "later": ":".join(later),
                        "later_state": l_state,
                        "outcome": rows.get(later, (0, "", ""))[1:],
                    }
                    match = features.get(":".join(later))
                    if e_child is None:
                        cause = "earlier record not linked"
                    elif l_state == "in_review":
                        cause = "later record in review"
                    elif match is None:
                        cause = "later record rejected"
                    else:
                        found = find_candidates([match])[0]
                        if e_child in find_shielded([match])[0]:
                            found.setdefault(e_child, "shielded_dob")
                        nhs = SourceRecord.objects.filter(
                            child_id=e_child, state="linked"
                        ).values_list("nhs_hash", "source__code")
                        profile = load_profiles([e_child])[e_child]
                        profile.nhs_hashes = frozenset(h for h, _ in nhs if h)
                        profile.extra["sources"] = frozenset(c for _, c in nhs)
                        if match.nhs_hashes & profile.nhs_hashes:
                            found.setdefault(e_child, "nhs_number")
                        rule = found.get(e_child, "")
                        scored = score_candidates(model, match, [(profile, rule or "none")])
                        score = scored[0].score
                        alone = decide(model, scored, source=later[0])
                        entry.update(
                            names=[_shown(match), _shown(profile)],
                            rule=rule,
                            weight=round(score.weight, 2),
                            levels={
                                f["comparison"]: f"{f['level']} {f['weight']}"
                                for f in score.as_dict()["fields"]
                            },
                            decision_alone=[alone.outcome.value, alone.reason],
                        )
                        if l_child is not None and rows.get(later, (0, ""))[1] == "linked":
                            cause = "linked to another child"
                        elif not rule:
                            cause = "not found by blocking"
                        elif score.weight < model.thresholds.review:
                            cause = "scored below review"
                        elif alone.outcome.value == "new":
                            cause = f"rule: {alone.reason}"
                        else:
                            cause = f"other candidates: {rows.get(later, (0, '', ''))[2]}"
                    entry["cause"] = cause
                    counts[cause] += 1
                    out.write(json.dumps(entry, default=str) + "\n")
    return counts


def dedupe(directory: Path) -> dict[str, Any]:
    """The initial-national-load path: cluster all files at once with Splink on DuckDB."""
    from contactpoint.feeds.batch import match_records
    from contactpoint.matching.model import current_model
    from contactpoint.matching.training import dedupe_table, features_table
    from contactpoint.synthetic.feeds import read_ground_truth

    files = [directory / f"{code}.csv" for code in SOURCES]
    started = time.monotonic()
    table = features_table(match_records(files))
    prepared = time.monotonic() - started
    result = dedupe_table(table, current_model())
    truth = read_ground_truth(directory / "ground_truth.csv")
    predicted = {tuple(uid.split(":", 1)): cluster for uid, cluster in result.clusters.items()}
    return {
        "records": table.num_rows,
        "seconds_reading": round(prepared, 1),
        "seconds_splink": round(result.seconds, 1),
        "pairs_scored": result.pairs_scored,
        "records_per_second": round(table.num_rows / (prepared + result.seconds)),
        "peak_rss_mib": round(psutil.Process().memory_info().rss / 2**20),
        **pairwise(truth, predicted),  # type: ignore[arg-type]
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--concurrent", action="store_true", help="load the three sources at once")
    parser.add_argument(
        "--initial-load",
        action="store_true",
        help="load the three files with `feeds initial-load` (clusters in bulk, the rest online) "
        "instead of one `feeds load` each; --workers is passed to it",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes per load (default 1)")
    parser.add_argument(
        "--dedupe", action="store_true", help="also batch-dedupe with Splink/DuckDB"
    )
    parser.add_argument("--feeds-dir", type=Path, help="reuse feeds written here (default var/)")
    parser.add_argument(
        "--misses",
        type=Path,
        help="write every missed true pair, explained, as JSON lines to this file",
    )
    parser.add_argument(
        "--misses-only",
        action="store_true",
        help="skip generating and loading: explain the misses of the last load into the database",
    )
    args = parser.parse_args()
    if args.misses_only:
        if not args.misses or not args.feeds_dir:
            raise SystemExit("--misses-only needs --misses FILE and --feeds-dir")
        os.environ["DATABASE_URL"] = args.database_url
        a = evaluate(args.database_url, args.feeds_dir)["all_records"]
        print(f"Precision {a['precision']:.5f}  recall {a['recall']:.5f}")
        for cause, count in misses(args.feeds_dir, args.misses).most_common():
            print(f"{count:6,}  {cause}")
        return

    url = args.database_url
    recreate_database(url)
    directory = args.feeds_dir or ROOT / "var" / f"bench-feeds-{args.children}-{args.seed}"
    # Production runs with DEBUG off: on, Django wraps every cursor to log each query.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CONTACTPOINT_ENV": "demo",
        "CONTACTPOINT_DEBUG": "false",
    }
    print(f"Machine: {json.dumps(machine())}")
    run(env, "migrate", "--no-input", "-v0")
    started = time.monotonic()
    run(
        env,
        "generate_feeds",
        str(directory),
        "--children",
        str(args.children),
        "--seed",
        str(args.seed),
        "-v0",
    )
    generated = time.monotonic() - started
    run(env, "feeds", "register-synthetic", str(directory))
    sizes = {
        code: sum(1 for _ in (directory / f"{code}.csv").open(encoding="utf-8")) - 1
        for code in SOURCES
    }
    total = sum(sizes.values())
    print(
        f"Data: {args.children:,} children, {total:,} source records ({sizes}); feeds written in {generated:.0f}s"
    )

    loads: list[dict[str, Any]] = []
    if args.initial_load:
        process = subprocess.Popen(  # noqa: S603 (our own command)
            [
                COMMAND,
                "feeds",
                "initial-load",
                *(f"{code}={directory / f'{code}.csv'}" for code in SOURCES),
                "--workers",
                str(args.workers),
                "--quiet",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seconds, peaks, server_peak = watch([process])
        summary = process.stdout.read().strip().splitlines() if process.stdout else []
        loads.append(
            {
                "initial_load": list(SOURCES),
                "records": total,
                "seconds": round(seconds, 1),
                "records_per_second": round(total / seconds),
                "peak_rss_mib": round(max(peaks.values()) / 2**20),
                "peak_postgres_rss_mib": round(server_peak / 2**20),
                "summary": summary,
            }
        )
        print("\n".join(f"  {line}" for line in summary))
        print(
            f"  peak memory: loader and its workers {max(peaks.values()) / 2**20:,.0f} MiB, "
            f"PostgreSQL {server_peak / 2**20:,.0f} MiB"
        )
        load_seconds = seconds
    elif args.concurrent:
        processes = [start_load(env, directory, code, args.workers) for code in SOURCES]
        seconds, peaks, server_peak = watch(processes)
        loads.append(
            {
                "sources": list(SOURCES),
                "records": total,
                "seconds": round(seconds, 1),
                "records_per_second": round(total / seconds),
                "peak_rss_mib_per_loader": [round(v / 2**20) for v in peaks.values()],
                "peak_postgres_rss_mib": round(server_peak / 2**20),
            }
        )
        load_seconds = seconds
    else:
        load_seconds = 0.0
        for code in SOURCES:
            process = start_load(env, directory, code, args.workers)
            seconds, peaks, server_peak = watch([process])
            load_seconds += seconds
            loads.append(
                {
                    "source": code,
                    "records": sizes[code],
                    "seconds": round(seconds, 1),
                    "records_per_second": round(sizes[code] / seconds),
                    "peak_rss_mib": round(max(peaks.values()) / 2**20),
                    "peak_postgres_rss_mib": round(server_peak / 2**20),
                    "summary": process.stdout.read().strip().splitlines()[0]
                    if process.stdout
                    else "",
                }
            )
            print(
                f"  {code}: {sizes[code]:,} records in {seconds:.1f}s ({sizes[code] / seconds:,.0f}/s)"
            )
    print(
        f"Loaded {total:,} records in {load_seconds:.1f}s: {total / load_seconds:,.0f} records/s end to end"
    )

    accuracy = evaluate(url, directory)
    result: dict[str, Any] = {
        "benchmark": "matching",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "children": args.children,
        "records": total,
        "concurrent": args.concurrent,
        "initial_load": args.initial_load,
        "workers": args.workers,
        "loads": loads,
        "records_per_second": round(total / load_seconds),
        "accuracy": accuracy,
    }
    if args.dedupe:
        result["batch_dedupe_duckdb"] = dedupe(directory)
    a, r = accuracy["all_records"], accuracy["accepted_records"]
    after = accuracy["after_review_decided_right"]
    print(
        f"Precision {a['precision']:.5f}  recall {a['recall']:.5f} (all records), "
        f"{r['recall']:.5f} (records not rejected), {after['recall']:.5f} (review items decided "
        f"right, precision {after['precision']:.5f})"
    )
    print(
        f"Review share {accuracy['review_share']:.4%}, rejected {accuracy['rejected_share']:.4%}; "
        f"false pairs {a['false_pairs']:,}, missed pairs {a['missed_pairs']:,}, "
        f"children split {a['children_split']:,}, clusters merging children {a['clusters_merging_children']:,}"
    )
    print(
        f"Possible-duplicate items {accuracy['possible_duplicate_items']:,}; shielded children "
        f"{accuracy['shielded_children']:,}, of them {accuracy['shielded_as_precaution']:,} "
        "as a precaution (resembling a shielded child)"
    )
    if args.dedupe:
        d = result["batch_dedupe_duckdb"]
        print(
            f"Batch dedupe (Splink on DuckDB): {d['records']:,} records in "
            f"{d['seconds_reading'] + d['seconds_splink']:.0f}s, precision {d['precision']:.5f}, "
            f"recall {d['recall']:.5f}"
        )
    if args.misses:
        for cause, count in misses(directory, args.misses).most_common():
            print(f"{count:6,}  missed pairs: {cause}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"matching-{args.children}-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Results: {out}")


if __name__ == "__main__":
    main()
