"""Engine round trips: a mixed folder in, the same folder out."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.api.errors import CancelledError
from latentzip.codec.container import EntryKind

ASSETS = Path(__file__).parent / "assets"
LOSSY = engine.CompressOptions(checkpoint="C", quality_floor=0.0)  # exercise the lossy path whatever the model


def photo() -> Image.Image:
    return Image.open(ASSETS / "photo_crop.png").convert("RGB")


def make_mixed_folder(root: Path) -> Path:
    top = root / "PHOTOS"
    (top / "nested" / "deeper").mkdir(parents=True)
    (top / "empty folder").mkdir()
    photo().save(top / "scene.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 on display
    exif[0x010F] = "Latentzip test camera"
    photo().save(top / "nested" / "camera.jpg", quality=92, exif=exif.tobytes())
    photo().convert("L").save(top / "nested" / "gray.png")
    rgba = photo().convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, rgba.width, dtype=np.uint8), (rgba.height, 1))
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(top / "nested" / "deeper" / "cutout.png")
    (top / "notes.txt").write_text("field notes\n" * 500, encoding="utf-8")
    (top / "nested" / "random.bin").write_bytes(np.random.default_rng(0).bytes(20_000))
    (top / "nested" / "empty.dat").write_bytes(b"")
    (top / "Ünïcödé —名前.txt").write_text("unicode name", encoding="utf-8")
    arr16 = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20
    Image.fromarray(arr16).save(top / "nested" / "deep16.png")
    Image.new("P", (40, 30)).save(top / "palette.gif")
    (top / "broken.jpg").write_bytes((top / "nested" / "camera.jpg").read_bytes()[:600])
    (top / "not_really.png").write_text("this is text, not a PNG")
    os.symlink("notes.txt", top / "link-to-notes")
    times = 1_500_000_000_123_456_789
    for p in sorted(top.rglob("*"), reverse=True):
        os.utime(p, ns=(times, times), follow_symlinks=False)
    os.utime(top, ns=(times, times))
    return top


def all_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))}


def test_mixed_folder_round_trip(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "photos.ltz"
    report = engine.compress([src], archive, LOSSY)
    assert not report.failed
    kinds = {o.name: o.kind for o in report.outcomes}
    assert kinds["PHOTOS/scene.png"] == "lossy"
    assert kinds["PHOTOS/nested/camera.jpg"] == "lossy"
    assert kinds["PHOTOS/nested/deep16.png"] == "stored"
    assert kinds["PHOTOS/palette.gif"] == "stored"
    assert kinds["PHOTOS/notes.txt"] == "lzma"
    assert kinds["PHOTOS/nested/random.bin"] == "stored"
    warned = {name for name, _ in report.warnings}
    assert {"PHOTOS/broken.jpg", "PHOTOS/not_really.png"} <= warned

    out = tmp_path / "out"
    ext = engine.extract(archive, out)
    assert not ext.failed
    before, after = all_files(src.parent), all_files(out)
    assert set(before) == set(after)
    for rel, original in before.items():
        restored = after[rel]
        assert os.lstat(restored).st_mtime_ns == os.lstat(original).st_mtime_ns, rel
        if original.is_symlink():
            assert os.readlink(restored) == os.readlink(original)
        elif original.is_file() and kinds.get(f"{rel}") != "lossy":
            assert restored.read_bytes() == original.read_bytes(), rel
    assert (out / "PHOTOS" / "empty folder").is_dir()

    for rel in ("PHOTOS/scene.png", "PHOTOS/nested/camera.jpg"):
        a = np.asarray(Image.open(before[rel]).convert("RGB"))
        b = np.asarray(Image.open(after[rel]).convert("RGB"))
        assert a.shape == b.shape
        entry = next(e for e in engine.list_entries(archive) if e.path == rel)
        assert metrics.ms_ssim(a, b) >= entry.extra["ms_ssim"] - 0.01  # JPEG re-encode costs a little

    with Image.open(after["PHOTOS/nested/camera.jpg"]) as im:
        assert im.getexif()[0x0112] == 6 and im.format == "JPEG"
        assert im.size == photo().size  # pixels not rotated: the tag still rotates on display
    with Image.open(after["PHOTOS/nested/gray.png"]) as im:
        assert im.mode == "L"
    with (
        Image.open(after["PHOTOS/nested/deeper/cutout.png"]) as im,
        Image.open(before["PHOTOS/nested/deeper/cutout.png"]) as ref,
    ):
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[..., 3], np.asarray(ref)[..., 3])


def test_default_floor_keeps_quality_or_stores_exactly(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "b.ltz"
    report = engine.compress([src], archive, engine.CompressOptions(checkpoint="B"))
    out = tmp_path / "out"
    engine.extract(archive, out)
    for o in report.outcomes:
        if o.kind == "lossy":
            assert o.ms_ssim >= engine.QUALITY_FLOORS["B"]
            a = np.asarray(Image.open(src.parent / o.name).convert("RGB"))
            b = np.asarray(Image.open(out / o.name).convert("RGB"))
            assert metrics.ms_ssim(a, b) >= engine.QUALITY_FLOORS["B"] - 0.005
        elif o.kind in ("stored", "lzma"):
            assert (out / o.name).read_bytes() == (src.parent / o.name).read_bytes()


def test_lossless_mode_stores_every_file_exactly(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "l.ltz"
    engine.compress([src], archive, engine.CompressOptions(images="lossless"))
    assert all(e.kind != EntryKind.IMAGE for e in engine.list_entries(archive))
    out = tmp_path / "out"
    engine.extract(archive, out)
    for rel, p in all_files(src.parent).items():
        if p.is_file() and not p.is_symlink():
            assert (out / rel).read_bytes() == p.read_bytes()


def test_as_png_and_patterns(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "p.ltz"
    engine.compress([src], archive, LOSSY)
    out = tmp_path / "out"
    rep = engine.extract(archive, out, engine.ExtractOptions(patterns=("PHOTOS/nested/*.jpg",), as_png=True))
    assert rep.written == ["PHOTOS/nested/camera.jpg"]
    produced = out / "PHOTOS" / "nested" / "camera.png"
    with Image.open(produced) as im:
        assert im.format == "PNG"
    assert not (out / "PHOTOS" / "scene.png").exists()


def test_single_files_and_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.txt").write_text("x")
    (b / "y.txt").write_text("y")
    single = tmp_path / "single.bin"
    single.write_bytes(b"\0" * 100)
    os.mkfifo(a / "pipe")  # never opened (reading it would block), skipped with a warning
    archive = tmp_path / "two.ltz"
    report = engine.compress([a, b, single], archive)
    names = [e.path for e in engine.list_entries(archive)]
    assert names == ["a", "a/x.txt", "b", "b/y.txt", "single.bin"]
    assert [name for name, _ in report.warnings] == ["a/pipe"] and not report.failed


def test_archive_inside_an_input_folder_is_not_archived_into_itself(tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "f.txt").write_text("content")
    archive = src / "data.ltz"
    engine.compress([src], archive)
    engine.compress([src], archive, engine.CompressOptions(overwrite=True))
    assert [e.path for e in engine.list_entries(archive)] == ["data", "data/f.txt"]


def test_cancel_leaves_no_archive(tmp_path):
    src = make_mixed_folder(tmp_path / "in")
    archive = tmp_path / "c.ltz"
    token = engine.CancelToken()

    class CancelAfterFirst:
        def progress(self, event):
            if event.files_done >= 2:
                token.cancel()

        def warning(self, name, message):
            pass

    with pytest.raises(CancelledError):
        engine.compress([src], archive, LOSSY, CancelAfterFirst(), token)
    assert not archive.exists()
    assert list(tmp_path.glob(".c.ltz*")) == []


def test_large_image_is_tiled_and_cancellable_inside(tmp_path, monkeypatch):
    """Cancel fires from inside one image (between tiles), not only between files."""
    from latentzip.codec.runtime import transforms

    monkeypatch.setattr(transforms, "TILE_LATENTS", 4)
    big = np.asarray(photo().resize((640, 448)))
    Image.fromarray(big).save(tmp_path / "big.png")
    token = engine.CancelToken()
    calls = {"n": 0}
    original = transforms.analysis.__defaults__

    def counting_check():
        calls["n"] += 1
        if calls["n"] == 3:
            token.cancel()
        token.check()

    from latentzip.codec.runtime.model_set import default_registry

    model = default_registry().get()
    with pytest.raises(CancelledError):
        transforms.analysis(model, transforms.pad_to_multiple(big), counting_check, tile=4)
    assert calls["n"] == 3 and original is not None


def test_bad_image_bytes_do_not_lose_the_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    payload = io.BytesIO()
    photo().save(payload, "PNG")
    (src / "truncated.png").write_bytes(payload.getvalue()[:-200])
    archive = tmp_path / "t.ltz"
    report = engine.compress([src], archive, LOSSY)
    assert any("does not decode" in msg for _, msg in report.warnings)
    out = tmp_path / "out"
    engine.extract(archive, out)
    assert (out / "in" / "truncated.png").read_bytes() == (src / "truncated.png").read_bytes()


@pytest.mark.parametrize("options", [LOSSY, engine.CompressOptions(images="lossless")], ids=["lossy", "lossless"])
def test_compressing_the_same_folder_twice_gives_the_same_bytes(tmp_path, options):
    top = make_mixed_folder(tmp_path)
    first, second = tmp_path / "first.ltz", tmp_path / "second.ltz"
    engine.compress([top], first, options)
    engine.compress([top], second, options)
    assert first.read_bytes() == second.read_bytes()
    notes = [r.extra.get("note", "") for r in engine.list_entries(first)]
    assert not any(" at 0x" in note for note in notes)
