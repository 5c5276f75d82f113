"""Large photos region by region: the tile grid, the region in view, and tiles that match the whole-image codec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.codec import engine, metrics
from latentzip.codec.api.errors import CancelledError
from latentzip.codec.ops.region_preview import (
    HALO,
    REGION_MAX_TILES,
    TILE,
    RegionPreview,
    clip_region,
    image_size,
    is_large,
    tile_grid,
    tiles_for,
)
from latentzip.codec.runtime import image_codec
from latentzip.codec.runtime.model_set import default_registry

ASSETS = Path(__file__).resolve().parent / "assets"


def _photo(path: Path, width: int, height: int) -> Path:
    """A photo-like image of any size: the test crop, mirrored over and over."""
    crop = np.asarray(Image.open(ASSETS / "photo_crop.png").convert("RGB"))
    pad = ((0, height - crop.shape[0]), (0, width - crop.shape[1]), (0, 0))
    image = np.pad(crop, pad, mode="symmetric")
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


def test_tile_grid_and_the_tiles_of_a_region():
    grid = tile_grid(2000, 1000)
    assert len(grid) == 3 * 2 and grid[0] == (0, 0, TILE, TILE)
    assert grid[-1] == (2 * TILE, TILE, 2000 - 2 * TILE, 1000 - TILE)  # cut at the edges
    assert sum(w * h for _, _, w, h in grid) == 2000 * 1000
    region = (TILE + 10, 20, 100, 50)  # inside one tile
    assert tiles_for(region, 2000, 1000) == [(TILE, 0, TILE, TILE)]
    across = tiles_for((TILE - 10, TILE - 10, 20, 20), 2000, 1000)  # a corner of four tiles
    assert sorted(across) == sorted(b for b in grid if b[0] < 2 * TILE and b[1] < 2 * TILE)


def test_the_region_in_view_is_clipped_and_shrunk_around_its_centre():
    assert clip_region((-50, -50, 300, 200), 4000, 3000) == (0, 0, 250, 150)
    near = (TILE - 10, TILE - 10, TILE, TILE)  # four tiles: kept as it is
    assert clip_region(near, 4000, 3000) == near
    left, top, w, h = clip_region((0, 0, 4000, 3000), 4000, 3000)  # the whole photo at fit
    assert left % TILE == 0 and top % TILE == 0  # whole tiles
    assert len(tiles_for((left, top, w, h), 4000, 3000)) == REGION_MAX_TILES
    assert abs(left + w / 2 - 2000) <= TILE / 2 and abs(top + h / 2 - 1500) <= TILE / 2  # nearest the centre
    assert (w, h) == (2 * TILE, 2 * TILE)  # the shape closest to the view's
    wide = clip_region((0, 1000, 4000, 1000), 4000, 3000)  # a wide strip in view: a wide block
    assert wide[2] > wide[3]


def test_large_is_judged_from_the_header(tmp_path):
    big = tmp_path / "big.jpg"
    Image.new("RGB", (1400, 900), "grey").save(big)
    assert image_size(big) == (1400, 900) and is_large(1400, 900)
    assert not is_large(768, 512)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert image_size(tmp_path / "broken.jpg") is None


@pytest.mark.timeout(300)
def test_a_tile_matches_the_whole_image_codec_inside_the_tile(tmp_path):
    path = _photo(tmp_path / "photo.png", 2 * TILE + 200, TILE + 300)
    preview = RegionPreview(path)
    rgb = np.asarray(Image.open(path))
    model = default_registry().get()
    whole = image_codec.encode_image(model, rgb, "B", keep_latents=True)
    whole_recon = image_codec.reconstruct(model, whole)
    inner = (TILE, 0, TILE, TILE)  # context on three sides, the image's edge above
    tile = preview.tile(inner, "B")
    left, top, w, h = inner
    expected = whole_recon[top : top + h, left : left + w]
    diff = np.abs(tile.reconstruction.astype(int) - expected.astype(int))
    assert tile.reconstruction.shape == expected.shape
    assert diff.mean() < 0.1, f"mean difference {diff.mean():.3f} with a {HALO}-pixel halo"
    assert metrics.psnr(tile.reconstruction, expected) > 45
    # its bytes are its share of the whole stream, closely
    share = len(whole.data) * (w * h) / (rgb.shape[0] * rgb.shape[1])
    assert 0.6 < tile.coded_bytes / share < 1.6
    # cached: asking again codes nothing
    assert preview.tile(inner, "B") is tile and preview.cached(inner, "A") is None
    figures = preview.figures([inner], "B")
    original = rgb[top : top + h, left : left + w]
    assert figures.region == inner and figures.bpp == pytest.approx(tile.coded_bytes * 8 / (w * h))
    assert figures.psnr == pytest.approx(metrics.psnr(tile.reconstruction, original))
    assert preview.figures([inner, (0, 0, TILE, TILE)], "B") is None  # not every tile is coded yet


def test_a_cancelled_tile_stops_and_is_not_cached(tmp_path):
    path = _photo(tmp_path / "photo.png", TILE + 100, TILE)
    preview = RegionPreview(path)
    token = engine.CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        preview.tile((0, 0, TILE, TILE), "A", token)
    assert preview.cached((0, 0, TILE, TILE), "A") is None
