"""Benchmark tables as plain rows: shown with rich on the terminal, written as Markdown for the docs."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table


@dataclass(frozen=True, slots=True)
class BenchTable:
    """One table of figures: the first column names the row, the others are right-aligned values."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def rich(self) -> Table:
        """The table for the terminal, its notes as the caption."""
        table = Table(
            title=self.title,
            caption="\n".join(self.notes) or None,
            caption_justify="left",
            header_style="bold",
        )
        for index, column in enumerate(self.columns):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        """The table as a GitHub-flavoured Markdown section: a heading, the table, its notes."""
        lines = [f"## {self.title}", "", _markdown_row(self.columns)]
        lines.append("|" + "|".join(":---" if i == 0 else "---:" for i in range(len(self.columns))) + "|")
        lines += [_markdown_row(row) for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def ms(value: float) -> str:
    """A duration in milliseconds with the precision that matters at its size."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def machine() -> str:
    """This machine in one line: CPUs usable, CPU model, OS and Python."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cpus = len(os.sched_getaffinity(0))
    system = f"{platform.system()} {platform.release()}"
    return f"{cpus} CPUs ({model}), {system}, Python {platform.python_version()}"


def load() -> str:
    """The load averages over 1, 5 and 15 minutes: how busy the machine was with other work."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def markdown_document(
    tables: Sequence[BenchTable], *, date: str, command: str, took: str, load_before: str
) -> str:
    """A whole Markdown page of results: when, how and where they were measured, then the tables."""
    head = [
        "# tracenode benchmarks",
        "",
        f"- date: {date}",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- load average (1 / 5 / 15 min) before the run: {load_before}; after: {load()}",
        f"- run time: {took}",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(table.markdown() for table in tables)
