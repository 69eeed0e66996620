"""Where the shipped data lives: ``data/`` in a checkout, ``kisresearch/data/`` in a wheel.

The symbol universe, the real symbols it is generated from, and recorded KIS payloads. This
module imports only the standard library, so the simulator may use it too.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def shipped(name: str) -> Traversable:
    """The shipped file ``name`` (a path inside ``data/``), for reading."""
    packaged = resources.files("kisresearch") / "data" / name
    if packaged.is_file():  # an installed wheel
        return packaged
    return Path(__file__).resolve().parent.parent / "data" / name  # a checkout
