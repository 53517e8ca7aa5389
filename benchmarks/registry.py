"""The benchmarks `run_all.py` knows: each is a function of the parsed options returning rows
of the summary table (a figure, its floors, the ratio and the target), registered with
`@benchmark(name)`. A new benchmark module registers its functions and is named in
`run_all.MODULES`; its own options go in `options=`, a function adding them to the parser."""

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the table. `figure` and the floors are in `unit`; the ratio is the figure
    against the bare floor (the middleware floor's ratio is printed beside it).

    For throughputs (`higher_is_better`), ratio = figure / floor and the target is a minimum;
    for times, ratio = figure / floor and the target is a maximum."""

    name: str
    figure: float
    unit: str
    bare_floor: float | None = None
    middleware_floor: float | None = None
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.figure / self.bare_floor if self.bare_floor else None

    @property
    def middleware_ratio(self) -> float | None:
        return self.figure / self.middleware_floor if self.middleware_floor else None

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g}"


Runner = Callable[[argparse.Namespace], list[Row]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Runner
    options: Callable[[argparse.ArgumentParser], None] | None
    help: str


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, options: Callable[[argparse.ArgumentParser], None] | None = None):
    """Register `run(args) -> list[Row]` under `name`; its docstring's first line is its help."""

    def register(run: Runner) -> Runner:
        if name in BENCHMARKS:
            raise ValueError(f"two benchmarks are called {name!r}")
        help_line = (run.__doc__ or name).strip().splitlines()[0]
        BENCHMARKS[name] = Benchmark(name, run, options, help_line)
        return run

    return register


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, the way docs/performance.md shows them."""
    lines = [
        "| benchmark | figure | bare floor | middleware floor | ratio (bare) | "
        "ratio (middleware) | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        met = {None: "-", True: "yes", False: "**no**"}[row.met]
        lines.append(
            f"| {row.name} | {_number(row.figure)} {row.unit} | {_number(row.bare_floor)} | "
            f"{_number(row.middleware_floor)} | {_number(row.ratio)} | "
            f"{_number(row.middleware_ratio)} | {row.target_text()} | {met} |"
        )
    lines += [f"- {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join(lines)
