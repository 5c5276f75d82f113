"""Estimates before anything is written: sizes typed by people, per-image estimates, the planner, the estimate
pass of a target, and the archive estimate from a few sampled images (``sampling``, the GUI's and ``--dry-run``'s).

Kept import-free: compressor.py imports the planner and the pass, and ``sampling`` imports the compressor.
"""
