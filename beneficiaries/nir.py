"""A NIR on screen: never whole (the NIR itself, its check and its key are in contract.nir)."""

from __future__ import annotations


def mask_nir(value: str | None) -> str:
    """Show sex and birth year/month only: enough to tell people apart on screen."""
    if not value:
        return ""
    return value[:5] + "•" * (len(value) - 5)
