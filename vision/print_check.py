"""OCV by fields: does the text a reader read say what the code says, field by field?

The layout's lines are format strings (``"LOT {lot}"``): literal labels and the four data fields.
The expected text of each line comes from the code's own data (``print_lines``), so a printed lot
that differs from the lot in the code is caught here, and the rules then compare the code with the
job. Each character of the expected text belongs to a label or to a field; the read is aligned
with it and every difference is charged to the field (or label) it falls in:

- a confident character that differs, is missing or is extra is a *mismatch* of that field;
- a character read with less than ``min_confidence`` makes its field *illegible*: the reader is
  unsure, and unsure is a reject, never a guess, even where the best guess happens to match;
- a character printed with part of it missing (``vision.print_completeness``, measured against the
  font where the expected character must be, whatever was read) makes its field *incomplete*.

A field has one verdict, the first that applies of illegible, mismatch, incomplete; the sets on
``PrintCheck`` hold every field each applies to.

Spaces are geometry, not data (GS1 values hold no space), so they are not compared.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from recipes.schema import PrintLayout
from vision.ocr_types import LineRead
from vision.print_completeness import CharCompleteness

__all__ = ["LABEL", "FieldCheck", "PrintCheck", "check_print", "faults_by_field", "line_owners"]

_FIELD_OF_PLACEHOLDER = {
    "gtin": "gtin",
    "serial": "serial",
    "lot": "lot",
    "expiry_yymmdd": "expiry",
    "expiry_yyyy_mm": "expiry",
    "expiry_dd_mm_yyyy": "expiry",
}
LABEL = "label"
"""Owner of the literal characters of a line (``"LOT "``)."""
Verdict = Literal["ok", "mismatch", "illegible", "incomplete"]


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """One field (or one line's labels) as printed against as expected."""

    field: str
    """``gtin``, ``serial``, ``lot``, ``expiry`` or ``label``."""
    line: int
    expected: str
    read: str
    """The characters aligned with the field (spaces dropped); may be longer or shorter."""
    confidence: float
    """The least confident character read in the field (1.0 when nothing was read there)."""
    verdict: Verdict
    incomplete: tuple[str, ...] = ()
    """The field's characters printed with part of them missing (whatever their verdict)."""


@dataclass(frozen=True, slots=True)
class PrintCheck:
    """The verdict on all printed lines of one unit."""

    fields: tuple[FieldCheck, ...]
    lines_read: tuple[str, ...]
    mismatched: frozenset[str]
    """Fields (and ``label``) printed differently from the code, read with confidence."""
    illegible: frozenset[str]
    """Fields (and ``label``) with a character read below the confidence threshold."""
    incomplete: frozenset[str] = frozenset()
    """Fields (and ``label``) with a character printed with part of it missing."""

    @property
    def ok(self) -> bool:
        """Every field printed whole, as expected, and read with confidence."""
        return not self.mismatched and not self.illegible and not self.incomplete


def line_owners(template: str, line: str) -> tuple[str, ...]:
    """The owner (field name or ``label``) of each character of ``line``, formatted from ``template``.

    Raises
    ------
    ValueError
        If ``line`` is not what ``template`` formats to with some field values.
    """
    owners: list[str] = []
    position = 0
    parts = list(string.Formatter().parse(template))
    for i, (literal, name, _, _) in enumerate(parts):
        if not line.startswith(literal, position):
            raise ValueError(f"line {line!r} does not follow its template {template!r}")
        owners.extend(LABEL for _ in literal)
        position += len(literal)
        if name is None:
            continue
        # The value runs to the next literal (or the end): a value never contains that text.
        next_literal = parts[i + 1][0] if i + 1 < len(parts) else ""
        end = line.find(next_literal, position) if next_literal else len(line)
        if end < position:
            raise ValueError(f"line {line!r} does not follow its template {template!r}")
        owners.extend(_FIELD_OF_PLACEHOLDER[name] for _ in range(end - position))
        position = end
    if position != len(line):
        raise ValueError(f"line {line!r} does not follow its template {template!r}")
    return tuple(owners)


def check_print(
    reads: Sequence[LineRead],
    *,
    layout: PrintLayout,
    expected_lines: Sequence[str],
    min_confidence: float,
    completeness: Sequence[Sequence[CharCompleteness]] | None = None,
) -> PrintCheck:
    """Compare what was read with what each line must say, charging every difference to its field.

    Parameters
    ----------
    reads : sequence of LineRead
        One per layout line, in layout order.
    layout : PrintLayout
        The line templates, which say which characters belong to which field.
    expected_lines : sequence of str
        ``vision.print_text.print_lines`` of the code's data.
    min_confidence : float
        A character read below this makes its field illegible.
    completeness : sequence of sequences of CharCompleteness, optional
        One per line (``vision.print_completeness.line_completeness`` of its expected text); None
        when the recipe does not measure it.

    Raises
    ------
    ValueError
        If the counts of reads, expected lines, layout lines (and completeness) differ.
    """
    if not len(reads) == len(expected_lines) == len(layout.lines):
        raise ValueError(
            f"{len(reads)} reads and {len(expected_lines)} expected lines for a layout of "
            f"{len(layout.lines)} lines"
        )
    if completeness is not None and len(completeness) != len(reads):
        raise ValueError(f"completeness of {len(completeness)} lines for {len(reads)} reads")
    checks: list[FieldCheck] = []
    for index, (read, template, expected) in enumerate(zip(reads, layout.lines, expected_lines, strict=True)):
        broken = (
            frozenset(c.index for c in completeness[index] if not c.complete) if completeness else frozenset()
        )
        checks.extend(_check_line(index, read, template, expected, min_confidence, broken))
    return PrintCheck(
        fields=tuple(checks),
        lines_read=tuple(read.text for read in reads),
        mismatched=frozenset(c.field for c in checks if c.verdict == "mismatch"),
        illegible=frozenset(c.field for c in checks if c.verdict == "illegible"),
        incomplete=frozenset(c.field for c in checks if c.incomplete),
    )


def _check_line(
    index: int, read: LineRead, template: str, expected: str, min_confidence: float, broken: frozenset[int]
) -> list[FieldCheck]:
    owners_all = line_owners(template, expected)
    incomplete: dict[str, list[str]] = {}
    for position in sorted(broken):
        incomplete.setdefault(owners_all[position], []).append(expected[position])
    wanted = [(char, owner) for char, owner in zip(expected, owners_all, strict=True) if char != " "]
    got = [(c.char, c.confidence) for c in read.chars if c.char != " "]
    order = list(dict.fromkeys(owner for _, owner in wanted)) or [LABEL]
    read_chars: dict[str, list[str]] = {owner: [] for owner in order}
    confidence: dict[str, float] = dict.fromkeys(order, 1.0)
    wrong: set[str] = set()

    def charge(owner: str, char: str | None, conf: float | None, differs: bool) -> None:
        if char is not None:
            read_chars[owner].append(char)
        if conf is not None:
            confidence[owner] = min(confidence[owner], conf)
        if differs:
            wrong.add(owner)

    matcher = difflib.SequenceMatcher(None, [c for c, _ in wanted], [c for c, _ in got], autojunk=False)
    for tag, w0, w1, g0, g1 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(w1 - w0):
                charge(wanted[w0 + k][1], got[g0 + k][0], got[g0 + k][1], False)
            continue
        # Replaced, missing or extra characters: charge each to the expected character it stands
        # in for, or, when extra, to the one before it (text running on belongs to the last field).
        for k in range(max(w1 - w0, g1 - g0)):
            w = min(w0 + k, w1 - 1) if w1 > w0 else max(w0 - 1, 0)
            owner = wanted[w][1] if wanted else LABEL
            char, conf = got[g0 + k] if g0 + k < g1 else (None, None)
            charge(owner, char, conf, True)
    checks = []
    for owner in order:
        expected_text = "".join(c for c, o in wanted if o == owner)
        conf = confidence[owner]
        verdict: Verdict = "ok"
        if conf < min_confidence:
            verdict = "illegible"
        elif owner in wrong:
            verdict = "mismatch"
        elif owner in incomplete:
            verdict = "incomplete"
        checks.append(
            FieldCheck(
                field=owner,
                line=index,
                expected=expected_text,
                read="".join(read_chars[owner]),
                confidence=conf,
                verdict=verdict,
                incomplete=tuple(incomplete.get(owner, ())),
            )
        )
    return checks


def faults_by_field(check: PrintCheck) -> dict[str, str]:
    """``{field: verdict}`` of every field that is not ok (for the unit's log line)."""
    return {c.field: c.verdict for c in check.fields if c.verdict != "ok"}
