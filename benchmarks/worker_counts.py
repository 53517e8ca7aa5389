"""The patient page and submit with 1, 2 and 4 gunicorn workers: what scaling out buys.

    python benchmarks/worker_counts.py [--worker-counts 1,2,4] [--seconds 10] [--patients 1500]
    python benchmarks/run_all.py --only workers     (the same, as rows of the summary table)

Each count runs the page benchmark (benchmarks/page_render.py) and the submit benchmark
(benchmarks/submit_throughput.py) with `--workers` set to it and everything else as deployed
(gunicorn.conf.py's worker class and threads). Both floors run with the same count, so each
ratio is against a floor that scaled the same way; the absolute figures show what more workers
on one machine and one PostgreSQL give. Several web nodes behave as more workers do here:
each node's workers are further connections to the one database (docs/deployment.md)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or from run_all
import harness  # noqa: E402
import page_render  # noqa: E402
import submit_throughput  # noqa: E402
from registry import Row, benchmark  # noqa: E402


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--worker-counts",
        default="1,2,4",
        help="gunicorn worker counts to compare, comma-separated (default 1,2,4)",
    )


def counts(text: str) -> list[int]:
    try:
        chosen = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"--worker-counts: whole numbers separated by commas, not {text!r}"
        raise SystemExit(message) from None
    if not chosen or min(chosen) < 1:
        raise SystemExit("--worker-counts: at least one count, each 1 or more")
    return chosen


@benchmark("workers", options=options)
def run(args: argparse.Namespace) -> list[Row]:
    """The patient page and submit with 1, 2 and 4 gunicorn workers, each against its floors."""
    rows: list[Row] = []
    for count in counts(args.worker_counts):
        print(f"\n-- {count} worker{'s' if count > 1 else ''} --", flush=True)
        scaled = argparse.Namespace(**{**vars(args), "workers": count})
        page, _weight = page_render.run(scaled)
        submit = submit_throughput.run(scaled)[0]
        for row in (page, submit):
            rows.append(
                Row(
                    f"{row.name}, {count} worker{'s' if count > 1 else ''}",
                    row.figure,
                    row.unit,
                    bare_floor=row.bare_floor,
                    middleware_floor=row.middleware_floor,
                    target=row.target,
                    note=row.note,
                )
            )
    return rows


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0])
    options(parser)
    submit_throughput.options(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
