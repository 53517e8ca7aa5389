"""Run the benchmarks and print one table: figure, bare floor, middleware floor, ratios, target.

    python benchmarks/run_all.py                       # every registered benchmark
    python benchmarks/run_all.py --only submit --only page --seconds 10 --patients 2000
    python benchmarks/run_all.py --list

Each benchmark module registers its functions with `registry.benchmark` and is listed in
MODULES below; every HTTP benchmark takes the options of `harness.add_server_options` (the
database, gunicorn workers/threads/worker class, wrk connections and seconds), and a module
adds its own with `options=`. `uptime` is printed before and after: the machine is shared."""

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import registry  # noqa: E402

# Modules whose @benchmark functions run_all knows, in the order they run.
MODULES = [
    "submit_throughput",
    "page_render",
    "worker_counts",
    "clinic_pages",
    "completion_analytics",
    "dispatch",
]


def main() -> None:
    for module in MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_server_options(parser)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(registry.BENCHMARKS),
        help="run only this benchmark (repeat for several)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    for entry in registry.BENCHMARKS.values():
        if entry.options:
            entry.options(parser)
    args = parser.parse_args()
    if args.list:
        for entry in registry.BENCHMARKS.values():
            print(f"{entry.name:<16} {entry.help}")
        return

    chosen = [b for b in registry.BENCHMARKS.values() if not args.only or b.name in args.only]
    print(f"load before: {harness.load()}")
    rows: list[registry.Row] = []
    for entry in chosen:
        print(f"\n== {entry.name}: {entry.help} ==", flush=True)
        rows += entry.run(args)
    print(f"\nload after: {harness.load()}")
    print(harness.server_line(args))
    print()
    print(registry.table(rows))


if __name__ == "__main__":
    main()
