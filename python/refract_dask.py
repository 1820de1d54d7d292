#!/usr/bin/env python3
"""Dask runner for refract's OMOP screening.

Partitions persons into contiguous person_id ranges and screens each range on a Dask worker with
the pybind11 module `refract_omop` (the same C++ Reconstruct + Evaluate as `refract screen`).
Every worker reads its own range straight from PostgreSQL; partitions come back in id order, so the
output is identical to `refract screen --out` on one machine, whatever the number of workers.

    python3 refract_dask.py --omop postgresql://user@host/cdm --out results.csv [--scheduler tcp://host:8786 | --workers 4]
"""
import argparse
import sys

import refract_omop

_ENGINES = {}


def _engine(omop, kb_dir, as_of, criteria):
    # One engine per worker process: the KB load and concept resolution happen once per worker.
    key = (omop, kb_dir, as_of, criteria)
    if key not in _ENGINES:
        _ENGINES[key] = refract_omop.Engine(omop, kb_dir=kb_dir, as_of=as_of, criteria=criteria)
    return _ENGINES[key]


def screen_range(omop, first_id, last_id, kb_dir="", as_of="", criteria=""):
    """Screens persons first_id..last_id (inclusive): (CSV lines, summary dict)."""
    return _engine(omop, kb_dir, as_of, criteria).screen_range(first_id, last_id)


def person_ranges(person_ids, persons_per_partition):
    """Contiguous (first_id, last_id) ranges of at most persons_per_partition persons each."""
    ranges = []
    for start in range(0, len(person_ids), persons_per_partition):
        chunk = person_ids[start:start + persons_per_partition]
        ranges.append((chunk[0], chunk[-1]))
    return ranges


def merge_summaries(summaries):
    total = {"persons": 0, "drug_exposure_rows": 0, "trd_status": {}, "data_quality": {}}
    for summary in summaries:
        total["persons"] += summary["persons"]
        total["drug_exposure_rows"] += summary["drug_exposure_rows"]
        for group in ("trd_status", "data_quality"):
            for key, value in summary[group].items():
                total[group][key] = total[group].get(key, 0) + value
    return total


def run(client, omop, persons_per_partition=20000, kb_dir="", as_of="", criteria=""):
    """Screens every person of the OMOP database on the Dask cluster: (CSV text with header, summary)."""
    ids = refract_omop.Engine(omop, kb_dir=kb_dir, as_of=as_of, criteria=criteria).person_ids()
    futures = [client.submit(screen_range, omop, first, last, kb_dir, as_of, criteria, pure=False)
               for first, last in person_ranges(ids, persons_per_partition)]
    results = client.gather(futures)  # in submission order, i.e. person id order
    text = refract_omop.CSV_HEADER + "\n" + "".join(part for part, _ in results)
    return text, merge_summaries(summary for _, summary in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--omop", required=True, help="postgresql://... (every worker connects to it)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--scheduler", help="address of a running Dask scheduler; default: a local multi-process cluster")
    parser.add_argument("--workers", type=int, default=2, help="local cluster size (default 2)")
    parser.add_argument("--partition", type=int, default=20000, help="persons per partition (default 20000)")
    parser.add_argument("--kb", default="", help="KB directory (default: the built-in KB)")
    parser.add_argument("--as-of", default="")
    parser.add_argument("--criteria", default="")
    args = parser.parse_args()
    from distributed import Client, LocalCluster
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None))
    with client:
        text, summary = run(client, args.omop, args.partition, args.kb, args.as_of, args.criteria)
    with open(args.out, "w", newline="") as handle:
        handle.write(text)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
