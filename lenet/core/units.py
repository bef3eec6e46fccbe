"""Numbers for people: short sums, counts and sizes in words."""

from __future__ import annotations


def format_number(value: float) -> str:
    """19.0 -> '19', 0.5 -> '0.5', -1.0 -> '-1': short enough to write inside a sum."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4g}"


def human_count(n: int) -> str:
    """3_600_000_100 -> '3.6 billion'; small numbers keep every digit."""
    for size, word in ((10**15, "quadrillion"), (10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,}"


def human_bytes(n: int) -> str:
    """14_400_000_400 -> '14.4 GB' (decimal units, as disks and the curriculum count)."""
    for size, unit in ((10**18, "EB"), (10**15, "PB"), (10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"
