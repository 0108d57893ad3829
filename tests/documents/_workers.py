"""Functions for the process-pool tests (a spawned worker must import them by module name)."""

from __future__ import annotations

import os


def tenfold_or_die(value: int) -> int:
    """Kill the worker process outright on 3, like a renderer crashing on a hostile file."""
    if value == 3:
        os._exit(17)
    if value == 5:
        raise ValueError("five is not allowed")
    return value * 10
