"""Names for the states and actions of a game: what figures and animations print.

A :class:`TabularGame` is arrays; a built-in scenario also knows what its indices mean
(zone 2, "stale" client, "secure" mode). Games from a file get generic names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Labels:
    """Human-readable names of a game's indices (SPEC §1 sets), for figures and animations.

    ``global_states[s_g]``, ``global_actions[a_g]``, ``local_states[s_l]``,
    ``local_actions[a_l]``; ``global_agent`` and ``local_agents`` name the players
    ("dispatcher", "robots"). ``action_is_state`` says that global action ``a`` targets
    local state ``a`` (the warehouse's zones), so the rate at which ``a_g`` differs from the
    population's mode is meaningful.
    """

    global_states: tuple[str, ...]
    global_actions: tuple[str, ...]
    local_states: tuple[str, ...]
    local_actions: tuple[str, ...]
    global_agent: str = "global agent"
    local_agents: str = "local agents"
    action_is_state: bool = False

    @classmethod
    def generic(cls, num_sg: int, num_ag: int, num_sl: int, num_al: int) -> Labels:
        """Index names for a game without its own (``s_g = 0``, ``a_l = 1`` ...)."""
        return cls(
            global_states=tuple(f"s_g={i}" for i in range(num_sg)),
            global_actions=tuple(f"a_g={i}" for i in range(num_ag)),
            local_states=tuple(f"s_l={i}" for i in range(num_sl)),
            local_actions=tuple(f"a_l={i}" for i in range(num_al)),
        )

    def fits(self, num_sg: int, num_ag: int, num_sl: int, num_al: int) -> bool:
        """Whether these names cover a game of the given sizes."""
        return (
            len(self.global_states),
            len(self.global_actions),
            len(self.local_states),
            len(self.local_actions),
        ) == (num_sg, num_ag, num_sl, num_al)
