"""The memory budget every large table is checked against before it is allocated.

One budget governs all tables: ``$ALTMARL_MEMORY_BUDGET_GB`` GiB, default 8 GiB. A table
that would exceed it is refused with :class:`~altmarl.errors.MemoryBudgetError`, whose
message names the table, its size and the budget.
"""

from __future__ import annotations

import os

from altmarl.errors import AltmarlError, MemoryBudgetError

_GIB = 1024**3


def default_memory_budget() -> int:
    """Bytes a single table may take: ``$ALTMARL_MEMORY_BUDGET_GB`` GiB, default 8 GiB."""
    raw = os.environ.get("ALTMARL_MEMORY_BUDGET_GB")
    if raw is None:
        return 8 * _GIB
    try:
        return int(float(raw) * _GIB)
    except ValueError:
        raise AltmarlError(f"ALTMARL_MEMORY_BUDGET_GB={raw!r} is not a number of GiB") from None


def check_memory(nbytes: int, what: str, budget: int | None = None, hint: str = "") -> None:
    """Refuse (``MemoryBudgetError``) when a table of ``nbytes`` would exceed ``budget``."""
    budget = default_memory_budget() if budget is None else budget
    if nbytes > budget:
        raise MemoryBudgetError(
            f"{what} would need {nbytes / _GIB:.3g} GiB, over the memory budget of "
            f"{budget / _GIB:.3g} GiB{'; ' + hint if hint else ''} "
            "(raise the budget with ALTMARL_MEMORY_BUDGET_GB)"
        )
