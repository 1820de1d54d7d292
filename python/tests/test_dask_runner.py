#!/usr/bin/env python3
"""The Dask runner on a local multi-process cluster gives the same CSV as `refract screen`.

usage: test_dask_runner.py REFRACT_BINARY MODULE_DIR
Needs REFRACT_TEST_PG_URL (tests/pg/with_postgres.sh sets it); without it, says so and exits 77
(ctest reports the test as skipped). Prints 'N passed, M failed'.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    refract, module_dir = sys.argv[1], sys.argv[2]
    url = os.environ.get("REFRACT_TEST_PG_URL")
    if not url:
        print("SKIPPED: Dask runner test: REFRACT_TEST_PG_URL is not set (run through tests/pg/with_postgres.sh)")
        return 77
    try:
        sys.path.insert(0, module_dir)
        sys.path.insert(0, os.path.dirname(HERE))
        import refract_dask  # noqa: E402
        from distributed import Client, LocalCluster  # noqa: E402
    except ImportError as error:
        print(f"SKIPPED: Dask runner test: {error} (build the refract_omop_py target; apt-get install python3-dask python3-distributed)")
        return 77
    passed = failed = 0
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([refract, "synth-omop", "--persons", "1200", "--seed", "5", "--out", f"{work}/csv"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["bash", f"{ROOT}/bench/omop/load_postgres.sh", f"{work}/csv", url], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([refract, "screen", "--omop", url, "--out", f"{work}/single.csv", "--threads", "1", "--no-progress"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f"{work}/single.csv") as handle:
            single = handle.read()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with Client(cluster) as client:
            text, summary = refract_dask.run(client, url, persons_per_partition=150)
            workers = len(client.scheduler_info()["workers"])
        cluster.close()
        checks = [
            ("local cluster has 2 worker processes", workers == 2),
            ("Dask CSV identical to the single-machine run", text == single),
            ("summary counts every person", summary["persons"] == 1200),
            ("partitions cover all rows", text.count("\n") == 1201),
        ]
        for name, ok in checks:
            print(("ok: " if ok else "FAILED: ") + name)
            passed += ok
            failed += not ok
        if text != single:
            for got, want in zip(text.splitlines(), single.splitlines()):
                if got != want:
                    print("first difference:\n  dask:   " + got + "\n  single: " + want)
                    break
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
