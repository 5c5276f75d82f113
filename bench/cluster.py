"""Images per second through a local Ray cluster, with 1 and 2 workers, against one machine in line.

    python bench/cluster.py                          # 4 Kodak images, checkpoint A, workers 1 and 2
    python bench/cluster.py --images 8 --workers 1 2 4 --checkpoint B

Copies the first ``--images`` pictures of ``--folder`` into a temporary folder, compresses it once in line
(``latentzip compress``'s default path) and then through ``RayEncoder`` on a local Ray cluster
(``ray.init(num_cpus=max workers)``, started and stopped here) with each worker count. Each cluster run is
preceded by a warm-up run of the same encoder (the workers start and load the model set once, a fixed
cost that a library of thousands of photos spreads thin), so the figure is the steady state; the warm-up's
time is printed beside it. Every archive is checked byte for byte against the one-machine archive.

Needs the cluster extra (``pip install "latentzip[cluster]"``). Times depend on the load: the output says
when other work competed for the CPU. The expected scaling: with W workers on W machines, each with its
own cores, images per second approach W / (seconds per image in line), until the coordinator's own work
(reading and hashing the files, writing the archive: milliseconds per image) or the network limits it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import folder_images, machine_line  # noqa: E402

from latentzip.codec import engine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _timed(folder: Path, archive: Path, options: engine.CompressOptions, encoder=None) -> float:
    archive.unlink(missing_ok=True)
    start = time.perf_counter()
    engine.compress([folder], archive, options, encoder=encoder)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, default=REPO.parent / "shared" / "data" / "kodak")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--checkpoint", choices=engine.CHECKPOINTS, default="A")
    args = ap.parse_args(argv)
    try:
        import ray
    except ImportError:
        print('bench/cluster.py needs Ray: pip install "latentzip[cluster]"', file=sys.stderr)
        return 1
    from latentzip.codec.ops.cluster import RayCluster, RayEncoder

    print(machine_line())
    images = folder_images(args.folder)[: args.images]
    if not images:
        print(f"no images in {args.folder}", file=sys.stderr)
        return 1
    options = engine.CompressOptions(checkpoint=args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "library"
        folder.mkdir()
        for path in images:
            shutil.copy2(path, folder / path.name)
        megapixels = sum(_pixels(p) for p in images) / 1e6
        print(f"{len(images)} images from {args.folder} ({megapixels:.1f} MP), checkpoint {args.checkpoint}")
        reference = Path(tmp) / "alone.ltz"
        _timed(folder, reference, options)  # the models load once (not timed)
        alone = _timed(folder, reference, options)
        per_image = alone / len(images)
        print(f"one machine, in line: {alone:.2f} s, {len(images) / alone:.2f} images/s, {per_image:.2f} s/image")
        ray.init(num_cpus=max(args.workers), include_dashboard=False, logging_level="ERROR")
        try:
            for workers in args.workers:
                encoder = RayEncoder(RayCluster(), workers=workers)
                try:
                    archive = Path(tmp) / f"ray{workers}.ltz"
                    warm = _timed(folder, archive, options, encoder)
                    seconds = _timed(folder, archive, options, encoder)
                finally:
                    encoder.close()
                same = archive.read_bytes() == reference.read_bytes()
                print(
                    f"ray, {workers} worker(s): {seconds:.2f} s, {len(images) / seconds:.2f} images/s "
                    f"(first run with start-up and model loading: {warm:.2f} s); "
                    f"archive {'identical to' if same else 'DIFFERENT from'} one machine's"
                )
                if not same:
                    return 1
        finally:
            ray.shutdown()
    return 0


def _pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.width * im.height


if __name__ == "__main__":
    raise SystemExit(main())
