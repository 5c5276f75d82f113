"""The command line: exit codes, messages, defaults, and no torch or Qt at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from latentzip.codec import cli
from latentzip.codec.ops import scan
from latentzip.codec.ops.scan import FILE, Member


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "ALBUM"
    src.mkdir()
    (src / "a.txt").write_text("alpha " * 100)
    (src / "b.bin").write_bytes(bytes(range(256)) * 10)
    return src


def test_compress_defaults_to_name_beside_the_input_and_round_trips(folder, tmp_path, monkeypatch, capsys):
    assert cli.main(["compress", str(folder)]) == 0
    archive = tmp_path / "ALBUM.ltz"
    assert archive.is_file()
    out = tmp_path / "restore"
    assert cli.main(["extract", str(archive), "-o", str(out), "--quiet"]) == 0
    assert (out / "ALBUM" / "a.txt").read_text() == (folder / "a.txt").read_text()
    assert cli.main(["list", str(archive)]) == 0
    listing = capsys.readouterr().out
    assert "ALBUM/a.txt" in listing and "stored (lzma)" in listing
    assert cli.main(["test", str(archive)]) == 0


def test_refusals_exit_1_with_one_line_and_no_traceback(folder, tmp_path, capsys):
    archive = tmp_path / "x.ltz"
    assert cli.main(["compress", str(folder), "-o", str(archive), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["compress", str(folder), "-o", str(archive), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "x.ltz" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert cli.main(["extract", str(tmp_path / "missing.ltz")]) == 1
    assert "missing.ltz" in capsys.readouterr().err
    other = tmp_path / "elsewhere" / "ALBUM"
    other.mkdir(parents=True)
    assert cli.main(["compress", str(folder), str(other), "-o", str(tmp_path / "y.ltz")]) == 1
    assert "ALBUM" in capsys.readouterr().err
    assert not (tmp_path / "y.ltz").exists()


def test_damaged_archive_test_exits_1(folder, tmp_path, capsys):
    archive = tmp_path / "d.ltz"
    cli.main(["compress", str(folder), "-o", str(archive), "--quiet"])
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0xFF
    archive.write_bytes(bytes(data))
    assert cli.main(["test", str(archive)]) == 1
    assert "damaged" in capsys.readouterr().err


def test_unreadable_input_is_named_and_exit_is_2(folder, tmp_path, monkeypatch, capsys):
    real_scan = scan.scan_inputs

    def with_ghost(inputs, exclude=None):
        result = real_scan(inputs, exclude)
        ghost = Member("ALBUM/ghost.jpg", folder / "ghost.jpg", FILE, 10, 0, 0o644)
        result.members.append(ghost)  # listed, then gone before it could be read
        return result

    monkeypatch.setattr("latentzip.codec.ops.compressor.scan_inputs", with_ghost)
    archive = tmp_path / "g.ltz"
    assert cli.main(["compress", str(folder), "-o", str(archive)]) == 2
    err = capsys.readouterr().err
    assert "ALBUM/ghost.jpg" in err
    names = [e.path for e in __import__("latentzip.codec.engine", fromlist=["x"]).list_entries(archive)]
    assert "ALBUM/a.txt" in names and "ALBUM/ghost.jpg" not in names


def test_version_lists_the_bundled_model_hashes(capsys):
    from latentzip.codec.runtime.model_set import default_registry

    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("latentzip ")
    assert default_registry().default_hash() in out


def test_cli_runs_without_torch_and_without_qt(folder, tmp_path):
    """The runtime path must not import torch (training only) nor Qt (GUI only)."""
    script = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['PySide6'] = None\n"
        "from latentzip.codec.cli import main\n"
        f"rc = main(['compress', {str(folder)!r}, '-o', {str(tmp_path / 'n.ltz')!r}, '--quiet'])\n"
        f"rc = rc or main(['extract', {str(tmp_path / 'n.ltz')!r}, '-o', {str(tmp_path / 'n')!r}, '--quiet'])\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "raise SystemExit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "n" / "ALBUM" / "a.txt").is_file()


def test_preview_prints_all_checkpoints(capsys):
    image = Path(__file__).parent / "assets" / "photo_crop.png"
    assert cli.main(["preview", str(image)]) == 0
    out = capsys.readouterr().out
    for cp in "ABC":
        assert f"\n{cp}: " in out or out.startswith(f"{cp}: ")
    assert "bpp" in out and "PSNR" in out
