"""The L-LEARN oracles by name, and :func:`best_response`, the one entry point (SPEC §4)."""

from __future__ import annotations

import dataclasses
from typing import Any

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.llearn.mean_field import MeanFieldOracle
from altmarl.llearn.planning import PlanningOracle
from altmarl.llearn.ucfh_oracle import UCFHOracle
from altmarl.oracles import LLearnResult, LocalOracle
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.seeding import Seed

ORACLES: tuple[str, ...] = ("ucfh", "planning", "mean-field")

_ORACLE_CLASSES: dict[str, type] = {
    "ucfh": UCFHOracle,
    "planning": PlanningOracle,
    "mean-field": MeanFieldOracle,
}


def make_oracle(name: str, **options: Any) -> LocalOracle:
    """The oracle called ``name`` with its options (the dataclass fields)."""
    try:
        cls = _ORACLE_CLASSES[name]
    except KeyError:
        raise AltmarlError(
            f"oracle {name!r} is unknown; choose from {', '.join(ORACLES)}"
        ) from None
    fields = [f.name for f in dataclasses.fields(cls)]
    bad = sorted(set(options) - set(fields))
    if bad:
        raise AltmarlError(
            f"option(s) {', '.join(bad)} do not apply to oracle {name!r}; "
            f"it takes {', '.join(fields)}"
        )
    return cls(**options)


def best_response(
    game: TabularGame,
    global_policy: GlobalPolicy,
    k: int,
    *,
    local_policy: LocalPolicy | None = None,
    oracle: str = "ucfh",
    seed: Seed = 0,
    T: int | None = None,
    **options: Any,
) -> LLearnResult[LocalPolicy]:
    """L-LEARN (SPEC §4): a shared local policy that best-responds to ``global_policy``.

    ``oracle``: ``"ucfh"`` (:class:`UCFHOracle`), ``"planning"`` (:class:`PlanningOracle`)
    or ``"mean-field"`` (:class:`MeanFieldOracle`); ``T`` macro steps (default from
    Lemma C.1); other ``options`` are the chosen oracle's fields.
    """
    return make_oracle(oracle, T=T, **options).best_response(
        game, global_policy, k, local_policy=local_policy, seed=seed
    )
