"""The robustness bench's own logic on made-up rows: ranking, means, targets, the int8 gate, tables,
the level read from entry headers, and AVIF's bisection on a synthetic quality curve."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import peers
import robust
import robust_report as rr

FLOORS = {"A": 0.95, "B": 0.97, "C": 0.98}


def _row(
    image: str,
    cp: str,
    precision: str = "int8",
    folder: str = "robust",
    *,
    ms: float = 0.98,
    psnr: float = 30.0,
    err: tuple[float, float, float] = (0.1, 0.0, -0.1),
    kind: str = "coded",
    note: str = "",
    bpp: float = 1.0,
    nominal: tuple | None = None,
    raised: bool | None = False,
) -> dict:
    pixels = 10_000
    nominal = nominal or ((bpp, ms, psnr) if kind == "coded" and not raised else (None, None, None))
    return {
        "table": "image",
        "folder": folder,
        "image": image,
        "precision": precision,
        "checkpoint": cp,
        "kind": kind,
        "note": note,
        "pixels": pixels,
        "bytes": int(bpp * pixels / 8),
        "bpp": bpp,
        "ms_ssim": ms,
        "psnr": psnr,
        "err_r": err[0],
        "err_g": err[1],
        "err_b": err[2],
        "block": 2 * max(map(abs, err)),
        "level": None if kind == "stored" else {"A": 0.48, "B": 2.411, "C": 4.079}[cp],
        "raised": raised,
        "nominal_bpp": nominal[0],
        "nominal_ms_ssim": nominal[1],
        "nominal_psnr": nominal[2],
        "nominal_colour": max(map(abs, err)) if nominal[0] is not None and not raised else None,
    }


def _good_robust(precision: str = "int8") -> list[dict]:
    rows = []
    for image, shift in (("sky.png", 0.0), ("text.png", 0.2)):
        rows += [
            _row(image, "A", precision, ms=0.975 - shift / 10, psnr=28.0),
            _row(image, "B", precision, ms=0.985, psnr=29.0),
            _row(image, "C", precision, ms=0.99, psnr=30.0 - shift),
        ]
    return rows


def _verdicts(rows: list[dict], folder: str = "robust", precision: str = "int8") -> dict[str, bool | None]:
    summaries = rr.summarize(rows, {})
    return {
        t["target"]: t["met"]
        for t in rr.targets(rows, summaries, FLOORS)
        if t["folder"] == folder and t["precision"] == precision
    }


def test_robust_targets_met_on_good_rows() -> None:
    verdicts = _verdicts(_good_robust())
    assert len(verdicts) == 4 and all(verdicts.values()), verdicts
    only_ab = [r for r in _good_robust() if r["checkpoint"] != "C"]
    assert _verdicts(only_ab)["no image stored for its floor when the top level meets it"] is None


def test_colour_target_counts_every_channel_and_sign() -> None:
    rows = _good_robust()
    rows[4]["err_b"] = -1.3  # text.png at B turns yellow
    verdicts = _verdicts(rows)
    colour = next(k for k in verdicts if "colour" in k)
    assert verdicts[colour] is False
    t = next(t for t in rr.targets(rows, rr.summarize(rows, {}), FLOORS) if t["target"] == colour)
    assert "1.30" in t["figure"] and "text.png at B" in t["figure"]


def test_an_image_raised_for_its_colour_meets_the_target_and_the_nominal_row_shows_the_network() -> None:
    rows = _good_robust()
    a = next(r for r in rows if r["image"] == "sky.png" and r["checkpoint"] == "A")
    a.update(raised=True, level=0.9, err_g=0.8, nominal_bpp=0.9, nominal_ms_ssim=0.975, nominal_colour=1.1)
    verdicts = _verdicts(rows)
    assert verdicts["every colour error at most 1.0 grey level"] is True
    assert verdicts["nominal levels: every colour error at most 1.0 grey level"] is False
    t = next(t for t in rr.targets(rows, rr.summarize(rows, {}), FLOORS) if t["target"].startswith("nominal levels: e"))
    assert t["figure"] == "worst 1.10 (sky.png at A)"
    assert "0.900, 0.9750, 28.00, 1.10 |" in "\n".join(rr.image_table(rows))


def test_psnr_gain_uses_nominal_figures() -> None:
    rows = _good_robust()
    c = next(r for r in rows if r["image"] == "sky.png" and r["checkpoint"] == "C")
    c.update(kind="stored", psnr=float("inf"), nominal_psnr=28.9, nominal_ms_ssim=0.978, note="under the C floor")
    lows, smallest = rr.psnr_gain_failures(rows)
    assert smallest == pytest.approx(0.9) and lows == ["sky.png (int8: +0.90 dB)"]
    assert _verdicts(rows)[next(k for k in _verdicts(rows) if "PSNR" in k)] is False


def test_stored_image_that_c_could_code_fails_the_floor_target() -> None:
    rows = _good_robust()
    a = next(r for r in rows if r["image"] == "text.png" and r["checkpoint"] == "A")
    a.update(
        kind="stored",
        bytes=50_000,
        ms_ssim=1.0,
        psnr=float("inf"),
        note="MS-SSIM 0.9400 under the A floor 0.95; stored byte-exact",
        nominal_ms_ssim=0.94,
    )
    assert rr.stored_when_top_meets(rows, FLOORS) == ["text.png (int8 A: C reaches 0.9900)"]
    # stored for another reason (not smaller), or C too under the floor: not counted
    a["note"] = "coding would not make it smaller; stored byte-exact"
    assert rr.stored_when_top_meets(rows, FLOORS) == []
    a["note"] = "under the A floor"
    next(r for r in rows if r["image"] == "text.png" and r["checkpoint"] == "C")["nominal_ms_ssim"] = 0.93
    assert rr.stored_when_top_meets(rows, FLOORS) == []


def test_summary_counts_means_and_worst() -> None:
    rows = _good_robust()
    rows[0].update(kind="stored", raised=None, ms_ssim=1.0, psnr=float("inf"), err_r=0.0, err_g=0.0, err_b=0.0)
    rows[3].update(raised=True, level=1.2, err_r=-0.6)
    sizes = {("robust", "int8", "A"): 5_000}
    a = next(s for s in rr.summarize(rows, sizes) if s["checkpoint"] == "A")
    assert (a["images"], a["coded"], a["stored"], a["raised"]) == (2, 1, 1, 1)
    assert a["archive_bpp"] == pytest.approx(5_000 * 8 / 20_000)
    assert a["psnr"] == 28.0  # the stored (exact) image is left out of the PSNR mean
    assert a["worst_err_r"] == -0.6 and a["err_r"] == pytest.approx(-0.3)
    assert a["colour_worst"] == pytest.approx(0.6)


def test_kodak_targets_by_checkpoint() -> None:
    rows = []
    for i in range(3):
        rows += [
            _row(f"kodim0{i}.png", "A", folder="kodak", ms=0.9748, psnr=27.5, bpp=0.45),
            _row(f"kodim0{i}.png", "C", folder="kodak", ms=0.989, psnr=30.5, bpp=1.00),
        ]
    verdicts = _verdicts(rows, "kodak")
    assert verdicts["A: MS-SSIM at 0.975"] is True  # within the tolerance
    assert verdicts["C: MS-SSIM at 0.991"] is False
    assert verdicts["A: bpp at most 0.48 (stretch 0.42)"] is True
    assert verdicts["C: PSNR at least the paper's 30.14 dB"] is True
    assert verdicts["every colour error at most 0.5 grey level"] is True


def test_int8_gate_worst_and_mean() -> None:
    rows = _good_robust("fp32") + _good_robust("int8")
    for r in rows:
        if r["precision"] == "int8" and r["checkpoint"] == "C":
            r["nominal_ms_ssim"] -= 0.001
    bad = next(r for r in rows if r["precision"] == "int8" and r["checkpoint"] == "B" and r["image"] == "sky.png")
    bad["nominal_ms_ssim"] -= 0.0045  # one image over the worst-image limit, the mean under its own
    gate = {g["checkpoint"]: g for g in rr.int8_gate(rows)}
    assert gate["B"]["worst_loss"] == pytest.approx(0.0045) and gate["B"]["worst_image"] == "sky.png"
    assert gate["B"]["mean_loss"] == pytest.approx(0.00225) and not gate["B"]["met"]
    assert gate["A"]["met"] and gate["C"]["met"] and gate["C"]["mean_loss"] == pytest.approx(0.001)
    assert rr.suggested_precision(list(gate.values())) == {"A": "int8", "B": "fp32", "C": "int8"}
    # a checkpoint that fails on one folder of two is fp32
    other = [dict(g, folder="kodak", met=True) for g in gate.values()]
    assert rr.suggested_precision(other + [dict(gate["A"], met=False)])["A"] == "fp32"


def test_int8_that_breaks_a_colour_target_is_not_suggested() -> None:
    rows = _good_robust("fp32") + _good_robust("int8")
    for r in rows:
        r["err_r"] = 0.6 if r["precision"] == "fp32" else 0.8
    cast = next(r for r in rows if r["precision"] == "int8" and r["checkpoint"] == "A" and r["image"] == "text.png")
    cast["err_g"] = -1.4  # within the MS-SSIM gate, over robust/'s 1.0 grey level
    gate = {g["checkpoint"]: g for g in rr.int8_gate(rows)}
    assert all(g["met"] for g in gate.values())
    assert gate["A"]["colour_int8"] == pytest.approx(1.4) and gate["A"]["colour_fp32"] == pytest.approx(0.6)
    assert not gate["A"]["colour_kept"] and gate["B"]["colour_kept"]
    assert rr.suggested_precision(list(gate.values())) == {"A": "fp32", "B": "int8", "C": "int8"}
    # on Kodak the limit is 0.5, but int8 may match an fp32 that is already over it
    kodak = rr.int8_gate([dict(r, folder="kodak") for r in rows if r is not cast])
    assert all(g["colour_kept"] is False for g in kodak)  # 0.8 over both 0.5 and fp32's 0.6
    for r in rows:
        r["err_r"] = 0.6
    assert all(g["colour_kept"] for g in rr.int8_gate([dict(r, folder="kodak") for r in rows if r is not cast]))
    # a folder without a colour target judges int8 by the MS-SSIM gate alone
    photos = rr.int8_gate([dict(r, folder="photos") for r in rows])
    assert all(g["colour_kept"] is None for g in photos)
    assert rr.suggested_precision(photos) == {"A": "int8", "B": "int8", "C": "int8"}
    table = "\n".join(rr.gate_table(list(gate.values()), {"A": "fp32"}, {"A": "fp32"}))
    assert "| 0.60 / 1.40 (int8 breaks the colour target) |" in table and "| 0.60 / 0.80 |" in table


def test_colour_of_a_row_without_channel_errors_is_zero() -> None:
    assert rr.colour_worst({"err_r": None, "err_g": None}) == 0.0
    assert rr.colour_worst({"err_r": -0.7, "err_b": 0.2}) == pytest.approx(0.7)


def test_ranking_and_tables() -> None:
    rows = _good_robust()
    rows[2]["err_g"] = 0.9  # sky.png at C
    assert rr.rank_images(rows) == ["sky.png", "text.png"]
    lines = rr.image_table(rows)
    assert lines[2].startswith("| sky.png | A | int8 | 0.48 |")
    assert "+0.10 / +0.90 / -0.10" in lines[4]
    rows[1].update(kind="stored", psnr=float("inf"), nominal_bpp=1.5, nominal_ms_ssim=0.96, nominal_psnr=27.0)
    stored = rr.image_table(rows)[3]
    assert "| stored |" in stored and "| exact |" in stored and "1.500, 0.9600, 27.00" in stored
    rows[1]["note"] = "MS-SSIM 0.9600 under the B floor 0.97; stored byte-exact"
    assert rr.stored_lines(rows) == ["- sky.png (int8 B): MS-SSIM 0.9600 under the B floor 0.97; stored byte-exact"]
    summaries = rr.summarize(rows, {})
    rr.add_avif(summaries, lambda folder, target: (0.5, "quality 40"))
    table = rr.summary_table(summaries)
    assert len(table) == 2 + 3 and "| 0.500 | +100.0% |" in table[2]
    targets = rr.target_table(rr.targets(rows, summaries, FLOORS))
    assert any("NOT met" in line or "| met |" in line for line in targets[2:])


class _SyntheticEvaluator(peers.Evaluator):
    """MS-SSIM and bpp as smooth functions of quality, without coding any image."""

    def __init__(self) -> None:
        super().__init__([np.zeros((8, 8, 3), np.uint8)], log=lambda *_: None)

    def point(self, codec: peers.ImageCodec, quality: int) -> peers.Point:
        key = (codec.key, quality)
        if key not in self.cache:
            ms = 1.0 - 0.06 * np.exp(-quality / 25.0)
            self.cache[key] = peers.Point(codec.key, quality, 0.0, 0.05 * 1.04**quality, float(ms), 30.0, 0.0, 0.0)
        return self.cache[key]


def test_avif_bisection_on_a_synthetic_curve() -> None:
    ev = _SyntheticEvaluator()
    at = rr.avif_matcher(ev, peers.CODECS["avif"])
    target = 1.0 - 0.06 * np.exp(-50.0 / 25.0)  # quality 50 exactly
    bpp, note = at(target)
    assert abs(ev.match(peers.CODECS["avif"], target).ms_ssim - target) <= peers.TOLERANCE
    assert bpp == pytest.approx(0.05 * 1.04**50, rel=0.1)
    assert len(ev.cache) <= 9  # bisection, not a sweep of 100 qualities
    _, top = at(0.99999)
    assert "above the highest" in top


def test_entry_level_read_defensively() -> None:
    assert robust.entry_level({}, None, 2.411) == (2.411, None)
    assert robust.entry_level({"level": 3.0}, None, 2.411) == (3.0, True)
    assert robust.entry_level({"level": 2.411}, None, 2.411) == (2.411, False)
    assert robust.entry_level({"level_step": 300, "raised": False}, None, 2.411) == (300, False)
    assert robust.entry_level({"level": "high", "raised": True}, None, 0.48) == (0.48, True)


@pytest.mark.slow
def test_bench_end_to_end_on_two_small_images(tmp_path: Path, monkeypatch) -> None:
    """A PNG and a JPEG through the real engine (the JPEG's coded pixels come back as PNG)."""
    folder = tmp_path / "robust"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        y, x = np.mgrid[0:176, 0:208]
        img = np.stack([100 + 60 * np.sin(x / (9 + i)), 90 + 0.5 * y, 140 - 0.3 * x], -1) + rng.normal(
            0, 4, (176, 208, 3)
        )
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"img{i}.{('png', 'jpg')[i]}")
    monkeypatch.setattr(robust, "RESULTS", tmp_path / "results")
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    assert robust.main(["--folder", str(folder), "--no-avif", "--name", "tiny"]) == 0
    md = (tmp_path / "results" / "tiny.md").read_text()
    assert "robust: per image, worst first" in md and "int8 gate" in md
    assert "every colour error at most 1.0 grey level" in md
    assert (tmp_path / "results" / "tiny-worst.png").read_bytes()[:4] == b"\x89PNG"
    rows = common.read_csv(tmp_path / "results" / "tiny.csv")
    images = [r for r in rows if r["table"] == "image"]
    assert len(images) == 2 * 3 * 2 and all(r["level"] is not None or r["kind"] == "stored" for r in images)
