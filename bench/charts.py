"""The bench's charts (matplotlib, Agg): a bubble chart like the paper's Figure 4 and a rate-distortion chart.

    python bench/charts.py --name kodak

reads bench/results/<name>-bench.csv (run_all.py's rows) and <name>-rd.csv (every
quality the bisection evaluated) and writes <name>-bubble.png and <name>-rd.png.
Measured points are filled; the paper's quoted points are hollow with dashed edges.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from common import RESULTS, read_csv

COLOURS = {
    "Latentzip (range)": "tab:red",
    "Latentzip (lzma)": "tab:orange",
    "JPEG": "tab:blue",
    "WebP": "tab:green",
    "AVIF": "tab:purple",
    "JPEG XL": "tab:brown",
    "7-Zip": "tab:gray",
    "tar": "black",
    "tar+xz": "tab:olive",
    "Paper (LZMA latents)": "tab:pink",
    "7-Zip (paper)": "tab:gray",
}
MENTZER_TEXT, MENTZER_TABLE = "tab:cyan", "navy"


def colour(codec: str) -> str:
    if codec.startswith("Mentzer"):
        return MENTZER_TABLE if "Table" in codec else MENTZER_TEXT
    return COLOURS.get(codec, "tab:olive")


def seconds(r: dict) -> float | None:
    """Time a bubble stands for: compress + extract (encode + decode), or the quoted total."""
    if r.get("total_s") is not None:
        return float(r["total_s"])
    if r.get("compress_s") is None or r.get("extract_s") is None:
        return None
    return float(r["compress_s"]) + float(r["extract_s"])


def short_label(r: dict) -> str:
    """A bubble's label: the checkpoint for Latentzip, codec and target for the others."""
    codec, setting = str(r["codec"]), str(r.get("target") or r.get("setting") or "")
    if codec.startswith("Latentzip"):
        return setting
    if codec.startswith("Paper"):
        return f"paper {setting}"
    if codec.startswith("Mentzer"):
        return "Mentzer (Table 1)" if setting == "Table 1" else f"Mentzer {setting.replace('point ', '')} (text)"
    return f"{codec} {setting}".strip() if r.get("target") else codec


def _plotted(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("source") in ("measured", "quoted") and r.get("ms_ssim") is not None]


def _legend_name(r: dict) -> str:
    codec = str(r["codec"])
    if r["source"] == "quoted" and not codec.startswith("Paper") and "(paper" not in codec:
        codec += " (quoted)"
    return codec


def bubble_chart(rows: list[dict], path: Path, title: str) -> Path:
    """Compression ratio (log) against MS-SSIM; bubble area proportional to compress + extract time."""
    from matplotlib.lines import Line2D

    rows = [r for r in _plotted(rows) if r.get("ratio")]
    times = [t for t in (seconds(r) for r in rows) if t]
    scale = 2500.0 / max(times) if times else 1.0  # the slowest bubble gets 2500 pt^2
    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=110)
    x_lo = min((r["ms_ssim"] for r in rows), default=0.9) - 0.004
    right = 1.003 - 0.15 * (1.003 - x_lo)  # labels of points right of this go to their left
    handles: dict[str, Line2D] = {}
    placed: dict[tuple, int] = {}
    for r in rows:
        t = seconds(r)
        quoted = r["source"] == "quoted"
        c = colour(str(r["codec"]))
        if t:
            ax.scatter(
                r["ms_ssim"],
                r["ratio"],
                s=max(12.0, t * scale),
                facecolors="none" if quoted else c,
                edgecolors=c,
                alpha=0.9 if quoted else 0.55,
                linewidths=1.5,
                linestyle="--" if quoted else "-",
                zorder=3,
            )
        else:  # no time quoted: a small diamond
            ax.scatter(
                r["ms_ssim"], r["ratio"], s=40, marker="D", facecolors="none", edgecolors=c, linewidths=1.5, zorder=3
            )
        name = _legend_name(r)
        handles.setdefault(
            name,
            Line2D(
                [],
                [],
                ls="none",
                marker="o" if t else "D",
                markersize=7,
                markerfacecolor="none" if quoted else c,
                markeredgecolor=c,
                label=name,
            ),
        )
        # labels of points that (nearly) coincide are stacked instead of printed over each other
        key = (round(r["ms_ssim"], 3), round(math.log10(r["ratio"]), 1))
        n = placed.get(key, 0)
        placed[key] = n + 1
        left = r["ms_ssim"] > right
        ax.annotate(
            short_label(r),
            (r["ms_ssim"], r["ratio"]),
            xytext=(-5 if left else 5, 3 - 9 * n),
            textcoords="offset points",
            fontsize=7,
            ha="right" if left else "left",
        )
    ax.set_yscale("log")
    ax.set_xlabel("mean MS-SSIM (1.0 = lossless)")
    ax.set_ylabel("compression ratio (original folder bytes / archive bytes)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_xlim(x_lo, 1.003)
    sizes = [
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            markersize=math.sqrt(ref * scale),
            markerfacecolor="none",
            markeredgecolor="0.4",
            label=f"{ref:g} s",
        )
        for ref in (_nice_times(max(times)) if times else [])
    ]
    first = ax.legend(
        handles=list(handles.values()),
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="filled: measured here\nhollow: quoted (paper's machine)",
        title_fontsize=7,
    )
    ax.add_artist(first)
    legends = [first]
    if sizes:
        legends += [
            ax.legend(
                handles=sizes,
                fontsize=7,
                loc="lower left",
                bbox_to_anchor=(1.01, 0.0),
                labelspacing=2.0,
                borderpad=1.2,
                title="bubble area =\ncompress + extract time",
                title_fontsize=7,
            )
        ]
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight", bbox_extra_artists=legends)
    plt.close(fig)
    return path


def _nice_times(longest: float) -> list[float]:
    top = 10 ** math.floor(math.log10(longest)) if longest > 0 else 1
    return [v for v in (top / 10, top) if v > 0]


def rd_chart(rows: list[dict], curve: list[dict], path: Path, title: str) -> Path:
    """bpp against MS-SSIM: every codec's evaluated qualities as a curve, matched points as markers."""
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    rows = [r for r in _plotted(rows) if r.get("bpp") is not None and r["ms_ssim"] < 1.0]
    for codec in dict.fromkeys(p["codec"] for p in curve):
        pts = sorted((p for p in curve if p["codec"] == codec), key=lambda p: p["bpp"])
        ax.plot([p["bpp"] for p in pts], [p["ms_ssim"] for p in pts], "-", color=colour(codec), alpha=0.35, lw=1)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r["codec"]), []).append(r)
    for codec, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["bpp"])
        quoted = rs[0]["source"] == "quoted"
        style = {
            "color": colour(codec),
            "marker": "s" if quoted else "o",
            "markersize": 7,
            "markerfacecolor": "none" if quoted else colour(codec),
        }
        ax.plot(
            [r["bpp"] for r in rs],
            [r["ms_ssim"] for r in rs],
            "--" if quoted else "-",
            label=_legend_name(rs[0]),
            **style,
        )
        for r in rs:
            if str(r["codec"]).startswith(("Latentzip", "Paper")):
                ax.annotate(
                    str(r.get("setting") or ""),
                    (r["bpp"], r["ms_ssim"]),
                    xytext=(4, -10),
                    textcoords="offset points",
                    fontsize=7,
                )
    marked = [r["ms_ssim"] for r in rows]
    if marked:
        ax.set_ylim(min(marked) - 0.015, min(1.0, max(marked) + 0.006))
        ax.set_xlim(0, max(r["bpp"] for r in rows) * 1.35)
    ax.set_xlabel("bits per pixel (whole folder)")
    ax.set_ylabel("mean MS-SSIM")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="kodak")
    args = ap.parse_args()
    rows = read_csv(RESULTS / f"{args.name}-bench.csv")
    rd = RESULTS / f"{args.name}-rd.csv"
    curve = read_csv(rd) if rd.exists() else []
    print(bubble_chart(rows, RESULTS / f"{args.name}-bubble.png", f"{args.name}: compression ratio, quality, time"))
    print(rd_chart(rows, curve, RESULTS / f"{args.name}-rd.png", f"{args.name}: rate-distortion"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
