"""The memory budget every large allocation is checked against before it happens.

One budget governs every table and every plan of tables (a training run's, a study job's):
``--memory-budget GIB`` on the command line, or ``$ALTMARL_MEMORY_BUDGET_GB``, and by
default :data:`DEFAULT_FRACTION` of the machine's physical memory. An allocation that would
exceed it is refused with :class:`~altmarl.errors.MemoryBudgetError`, whose message names
what would be allocated, its size and the budget.
"""

from __future__ import annotations

import math
import os

from altmarl.errors import AltmarlError, MemoryBudgetError

_GIB = 1024**3
#: The environment variable holding the budget in GiB (the CLI flag sets it, so the worker
#: processes of a sweep inherit it).
ENV_VAR = "ALTMARL_MEMORY_BUDGET_GB"
#: Default budget as a fraction of physical memory.
DEFAULT_FRACTION = 0.5
#: Default budget where physical memory cannot be read.
FALLBACK_BYTES = 8 * _GIB


def physical_memory() -> int | None:
    """Bytes of physical memory, or ``None`` where the OS does not say."""
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * page if pages > 0 and page > 0 else None


def parse_budget(text: str, name: str = ENV_VAR) -> int:
    """Bytes of a budget written in GiB (``4``, ``0.5``); refuses anything but a number > 0."""
    try:
        gib = float(text)
    except ValueError:
        raise AltmarlError(f"{name}={text!r} is not a number of GiB") from None
    if not (gib > 0 and math.isfinite(gib)):
        raise AltmarlError(f"{name}={text!r} must be a finite number of GiB > 0")
    return int(gib * _GIB)


def default_memory_budget() -> int:
    """The budget in bytes: ``$ALTMARL_MEMORY_BUDGET_GB`` GiB if set, else
    :data:`DEFAULT_FRACTION` of physical memory (:data:`FALLBACK_BYTES` if unknown)."""
    raw = os.environ.get(ENV_VAR)
    if raw is not None:
        return parse_budget(raw)
    total = physical_memory()
    return FALLBACK_BYTES if total is None else int(total * DEFAULT_FRACTION)


def set_memory_budget(gib: float) -> None:
    """Set the budget of this process and of the processes it starts (``--memory-budget``)."""
    os.environ[ENV_VAR] = repr(float(gib))
    default_memory_budget()  # refuse a bad value now, not at the first check


def check_memory(nbytes: int, what: str, budget: int | None = None, hint: str = "") -> None:
    """Refuse (``MemoryBudgetError``) when ``nbytes`` would exceed ``budget``."""
    budget = default_memory_budget() if budget is None else budget
    if nbytes > budget:
        raise MemoryBudgetError(
            f"{what} would need {nbytes / _GIB:.3g} GiB, over the memory budget of "
            f"{budget / _GIB:.3g} GiB{'; ' + hint if hint else ''} "
            "(raise the budget with --memory-budget GIB)"
        )
