"""Latentzip: a folder archiver with a learned image codec."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("latentzip")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
