"""The seed paper's own Kodak figures, quoted (never measured here).

Source: "Faster Image Compression Using Network Compression" (Johnson and Avasthi),
its Tables 1 to 4 and text, as transcribed in issue 6 of this project: the quantized
latents of Mentzer et al.'s codec stored with LZMA, at three checkpoints A, B, C, on
the 24-image Kodak set; times are compress plus decompress of the whole Kodak folder
on the paper's machine, so they do not compare with times measured here.

Compression ratios are not in the paper's tables for A, B and C: they are derived here
from its bpp and its 15.4 MB Kodak PNG folder (marked "derived").
"""

from __future__ import annotations

SOURCE = (
    'Johnson and Avasthi, "Faster Image Compression Using Network Compression", '
    "Tables 1-4 and text (quoted as transcribed in issue 6; not measured here)"
)

KODAK_FOLDER_BYTES = 15.4e6  # the paper's Kodak PNG folder, "15.4 MB"
KODAK_PIXELS = 24 * 768 * 512  # 24 images, 768x512 or 512x768

#: checkpoint -> (bpp, MS-SSIM, PSNR dB, compress + decompress seconds for the Kodak folder)
CHECKPOINTS = {
    "A": (0.583, 0.975, 27.17, 72.0),
    "B": (0.965, 0.987, 28.77, 79.0),
    "C": (1.376, 0.991, 30.14, 95.0),
}

MENTZER_FOOTNOTE = (
    "Mentzer et al. as the paper quotes them: its Table 1 lists 0.370 bpp at MS-SSIM 0.992, while its "
    "text gives 0.370 bpp at MS-SSIM 0.975 (its point A) and 1.051 bpp at 0.992 (point C). The two "
    "disagree; all three points are quoted as printed."
)
SEVEN_ZIP_NOTE = "7-Zip on the paper's Kodak PNG folder: ratio 1.0 in 1.9 s."


def _ratio(bpp: float) -> float:
    return KODAK_FOLDER_BYTES / (bpp * KODAK_PIXELS / 8)


def rows() -> list[dict]:
    """The paper's rows in the bench's row schema (``source`` = "quoted")."""
    out = []
    for cp, (bpp, msssim, psnr, seconds) in CHECKPOINTS.items():
        out.append(
            {
                "source": "quoted",
                "codec": "Paper (LZMA latents)",
                "setting": cp,
                "bpp": bpp,
                "ms_ssim": msssim,
                "psnr": psnr,
                "ratio": round(_ratio(bpp), 2),
                "total_s": seconds,
                "note": "ratio derived from bpp and the 15.4 MB folder; time = compress + decompress",
            }
        )
    out.append(
        {
            "source": "quoted",
            "codec": "Mentzer et al. (paper's Table 1)",
            "setting": "Table 1",
            "bpp": 0.370,
            "ms_ssim": 0.992,
            "ratio": round(_ratio(0.370), 2),
            "note": "see footnote [1]",
        }
    )
    out.append(
        {
            "source": "quoted",
            "codec": "Mentzer et al. (paper's text)",
            "setting": "point A",
            "bpp": 0.370,
            "ms_ssim": 0.975,
            "ratio": round(_ratio(0.370), 2),
            "note": "see footnote [1]",
        }
    )
    out.append(
        {
            "source": "quoted",
            "codec": "Mentzer et al. (paper's text)",
            "setting": "point C",
            "bpp": 1.051,
            "ms_ssim": 0.992,
            "ratio": round(_ratio(1.051), 2),
            "note": "see footnote [1]",
        }
    )
    out.append(
        {
            "source": "quoted",
            "codec": "7-Zip (paper)",
            "setting": "",
            "ms_ssim": 1.0,
            "ratio": 1.0,
            "bytes": int(KODAK_FOLDER_BYTES),
            "total_s": 1.9,
            "note": "lossless",
        }
    )
    return out
