"""Outcomes, operations and issues are typed: code branches on enums, never on wording."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from latentzip.codec import engine
from latentzip.codec.engine import (
    CompressOptions,
    CompressReport,
    FileOutcome,
    Issue,
    IssueCode,
    Operation,
    OutcomeKind,
    ProgressEvent,
)
from latentzip.codec.entries import jpeg_repack
from latentzip.codec.ops.scan import scan_inputs


def test_outcome_kind_and_operation_are_enums_and_refuse_unknown_words() -> None:
    outcome = FileOutcome("a.png", "lossy", 10, 5)
    assert outcome.kind is OutcomeKind.LOSSY and outcome.kind == "lossy"
    with pytest.raises(ValueError):
        FileOutcome("a.png", "lossy-ish", 10, 5)
    event = ProgressEvent("estimate", 0, 1, 0, 1)
    assert event.operation is Operation.ESTIMATE
    with pytest.raises(ValueError):
        ProgressEvent("compressing", 0, 1, 0, 1)
    assert FileOutcome("b", "stored", 1, 1, reason="not-an-image").reason is IssueCode.NOT_AN_IMAGE


def test_scan_issues_carry_codes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    os.mkfifo(folder / "pipe")
    scan = scan_inputs([folder])
    assert scan.skipped == [Issue(IssueCode.SPECIAL_FILE, "in/pipe", "special file (FIFO, socket or device) skipped")]
    assert not scan.skipped[0].is_failure and IssueCode.UNREADABLE.is_failure


def test_compress_classifies_by_code_not_by_wording(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a photo " * 20)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    os.mkfifo(folder / "pipe")
    # a skipped path whose wording starts with "cannot" but is not a failure stays a warning
    import latentzip.codec.ops.compressor as compressor

    real_scan = compressor.scan_inputs

    def scan(inputs, exclude=None):
        result = real_scan(inputs, exclude)
        result.skipped.append(Issue(IssueCode.SPECIAL_FILE, "in/odd", "cannot be opened: a socket"))
        return result

    monkeypatch.setattr(compressor, "scan_inputs", scan)
    report = engine.compress([folder], tmp_path / "a.ltz", CompressOptions())
    reasons = {o.name: o.reason for o in report.outcomes}
    assert reasons["in/notes.txt"] is IssueCode.NOT_AN_IMAGE
    assert reasons["in/broken.jpg"] is IssueCode.DOES_NOT_DECODE
    assert "in/broken.jpg" in {name for name, _ in report.warnings}
    assert not report.failed and {"in/pipe", "in/odd"} <= {name for name, _ in report.warnings}


def test_repack_reason_is_a_code(monkeypatch) -> None:
    monkeypatch.setattr(jpeg_repack, "available", lambda: False)
    attempt = jpeg_repack.try_repack(b"\xff\xd8\xff")
    assert attempt.payload is None and attempt.reason is IssueCode.REPACK_UNAVAILABLE
    assert jpeg_repack.repack(b"\xff\xd8\xff") == (None, attempt.note)


def test_gui_issue_list_follows_codes_not_notes() -> None:
    pytest.importorskip("PySide6")
    from latentzip.gui.progress_panel import compress_figures, compress_issues

    report = CompressReport(
        archive=Path("x.ltz"),
        archive_size=100,
        outcomes=[
            FileOutcome("plain.bin", "stored", 10, 10, note="stored as it is", reason=IssueCode.NOT_AN_IMAGE),
            FileOutcome("odd.png", "stored", 10, 10, note="not an image", reason=IssueCode.STORED_LOSSLESSLY),
            FileOutcome("copy.jpg", "duplicate", 10, 0, note="same content as a.jpg"),
            FileOutcome("a.jpg", "lossless-jpeg", 10, 8),
            FileOutcome("b.jpg", "lossy", 10, 4, pixels=100, source_format="JPEG"),
        ],
    )
    issues = compress_issues(report)
    names = [name for name, _ in issues]
    assert "odd.png" in names  # its note reads "not an image", but its code says otherwise
    assert "plain.bin" not in names and "copy.jpg" not in names
    assert names[0] == "(JPEG sources)"  # counted by OutcomeKind.LOSSY and the source format
    assert ("JPEGs kept exactly", "1 (re-packed, rebuilt bit for bit)") in compress_figures(report)
