"""Small formatting rules shared by the bodies: KIS sign codes and percentages as strings."""

from __future__ import annotations


def sign_code(price: float, base: float, upper: float = 0, lower: float = 0) -> str:
    """KIS 대비부호: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down."""
    if upper and price >= upper:
        return "1"
    if lower and price <= lower:
        return "4"
    return "2" if price > base else "5" if price < base else "3"


def pct(part: float, whole: float) -> str:
    """``part / whole`` in percent with two decimals ("0.00" when ``whole`` is 0)."""
    return f"{(part / whole * 100 if whole else 0.0):.2f}"
