"""kisresearch: a research toolkit for the Korea Investment & Securities Open API."""

from ._version import __version__

__all__ = ["__version__"]
