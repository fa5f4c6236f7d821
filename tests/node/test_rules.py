"""The verdict rules for the printed text (field by field) and the print grade."""

from __future__ import annotations

from dataclasses import replace

import pytest
from scripted import good_result, make_job

from node.reasons import Reason
from node.rules import judge
from vision.print_check import FieldCheck, PrintCheck


def _check(mismatched: set[str], illegible: set[str], incomplete: frozenset[str] = frozenset()) -> PrintCheck:
    fields = tuple(
        FieldCheck(field=f, line=0, expected="X", read="Y", confidence=0.5, verdict="mismatch")
        for f in mismatched
    )
    return PrintCheck(
        fields=fields,
        lines_read=(),
        mismatched=frozenset(mismatched),
        illegible=frozenset(illegible),
        incomplete=incomplete,
    )


class TestPrintReasons:
    """Each printed field that differs from the code is a reason of its own."""

    @pytest.mark.parametrize(
        ("field", "reason"),
        [
            ("gtin", Reason.OCV_GTIN),
            ("serial", Reason.OCV_SERIAL),
            ("lot", Reason.OCV_LOT),
            ("expiry", Reason.OCV_EXPIRY),
            ("label", Reason.OCV_MISMATCH),
        ],
    )
    def test_field_mismatch(self, field: str, reason: Reason) -> None:
        """A misprinted field gives its own reason and nothing else."""
        result = replace(good_result("SN000001"), print_check=_check({field}, set()), ocv_ok=False)
        assert judge(result, make_job(ocv=True), set()) == {reason}

    def test_illegible_character(self) -> None:
        """A character read without confidence is a reject of its own kind."""
        result = replace(good_result("SN000001"), print_check=_check(set(), {"lot"}), ocv_ok=False)
        assert judge(result, make_job(ocv=True), set()) == {Reason.PRINT_ILLEGIBLE}

    def test_incomplete_character(self) -> None:
        """A character printed with part of it missing is a reject of its own kind, read right or not."""
        check = _check(set(), set(), frozenset({"serial"}))
        result = replace(good_result("SN000001"), print_check=check, ocv_ok=False)
        assert judge(result, make_job(ocv=True), set()) == {Reason.PRINT_INCOMPLETE}
        assert Reason.PRINT_INCOMPLETE.code == 19

    def test_ocr_that_did_not_run_rejects(self) -> None:
        """No print check and no OCV verdict: the unit was not fully inspected."""
        result = replace(good_result("SN000001"), print_check=None, ocv_ok=None)
        assert judge(result, make_job(ocv=True), set()) == {Reason.OCV_MISMATCH}

    def test_all_fields_ok(self) -> None:
        """A clean print check adds no reason."""
        result = replace(good_result("SN000001"), print_check=_check(set(), set()))
        assert judge(result, make_job(ocv=True), set()) == frozenset()


class TestGradeReasons:
    """The code's print grade against the recipe's minimum."""

    @pytest.mark.parametrize(("grade", "rejected"), [(4.0, False), (1.5, False), (1.4, True), (None, True)])
    def test_minimum_grade(self, grade: float | None, rejected: bool) -> None:
        """Below 1.5 (the default minimum) or not graded at all is a reject."""
        result = replace(good_result("SN000001"), grade=grade)
        reasons = judge(result, make_job(grading=True), set())
        assert (Reason.GRADE_BELOW_LIMIT in reasons) is rejected

    def test_grading_off(self) -> None:
        """A recipe without grading never rejects for the grade."""
        result = replace(good_result("SN000001"), grade=None)
        assert judge(result, make_job(grading=False), set()) == frozenset()
