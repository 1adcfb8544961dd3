"""Exceptions raised at the library's boundaries.

Every error a user can trigger with bad input derives from :class:`AltmarlError`
(a ``ValueError``), so the CLI can turn it into a one-line message and exit status 2.
"""

from __future__ import annotations


class AltmarlError(ValueError):
    """Bad input to altmarl: the message names the argument and the rule broken."""


class GameValidationError(AltmarlError):
    """A game's arrays break a rule of SPEC §1 (shapes, probabilities, rewards, gamma)."""


class PolicyError(AltmarlError):
    """A policy does not fit the game or breaks a rule of SPEC §2."""


class MemoryBudgetError(AltmarlError):
    """A table would not fit in the memory budget."""


class GameMismatchError(AltmarlError):
    """A policy or a run was made for another game (its fingerprint differs)."""


class RunDirectoryError(AltmarlError):
    """A run or study directory is damaged, inconsistent, or not what the command expects."""


class DirectoryInUseError(AltmarlError):
    """Another process is writing the directory (it holds the directory's lock)."""


class AltmarlWarning(UserWarning):
    """Something the user should know that does not stop the command (one line on stderr)."""
