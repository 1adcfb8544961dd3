"""Issue 12's tiny-game tables: the certified eps (from the initial law and its supremum over
every state, SPEC §5), exploit's found gains with their 95% intervals, and the exact
restricted gaps, on the two-zones game at n = 4 for k = 1..4.

    python benchmarks/tiny_gap_table.py

A: pairs trained by exact ALTERNATING-MARL (planning oracle); B: seeded random pairs. The
ordering to check per player: restricted gap <= exploit's gain (within its interval) <=
the certified upper bound from the initial law (exploit's deviations start there too), and
eps (the supremum over states) >= eps from the initial law.
"""

from __future__ import annotations

import numpy as np

from altmarl.alternating import AlternatingConfig, AlternatingMARL
from altmarl.certify import certify
from altmarl.counts import CountSpace
from altmarl.exploit import ExploitConfig, exploit
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import two_zones

N = 4
HEADER = (
    "| k | eps init | eps sup | G restr | G exploit [95% CI] | G upper (init) "
    "| L restr | L exploit [95% CI] | L upper (init) |\n" + "|---" * 9 + "|"
)


def row(game, pg: GlobalPolicy, pl: LocalPolicy, k: int) -> str:
    c = certify(game, pg, pl, N, k)
    r = exploit(
        game, pg, pl, ExploitConfig(n=N, k=k, evaluation="rollouts", selection_rollouts=200)
    )
    g, loc = r.global_, r.local
    return (
        f"| {k} | {c.eps_initial:.4f} | {c.eps:.4f} | {c.global_gap_restricted:.4f} "
        f"| {g.gain:.4f} [{g.ci[0]:.4f}, {g.ci[1]:.4f}] | {c.global_gap_upper:.4f} "
        f"| {c.local_gap_restricted:.4f} | {loc.gain:.4f} [{loc.ci[0]:.4f}, {loc.ci[1]:.4f}] "
        f"| {c.local_gap_upper:.4f} |"
    )


def main() -> None:
    game = two_zones()
    print(f"A. trained pairs (exact ALTERNATING-MARL, planning oracle), two-zones, n = {N}")
    print(HEADER)
    for k in range(1, N + 1):
        config = AlternatingConfig(
            k=k, n=N, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-4
        )
        res = AlternatingMARL(game, config).run(progress=False)
        print(row(game, res.global_policy, res.local_policy, k))
    print(f"\nB. random pairs (seed k), two-zones, n = {N}")
    print(HEADER)
    for k in range(1, N + 1):
        rng = np.random.default_rng(k)
        pg = GlobalPolicy(rng.integers(0, 2, size=(2, CountSpace(k, 2).size)), k, 2, 2)
        pl = LocalPolicy(rng.dirichlet(np.ones(2), size=(2, 2)))
        print(row(game, pg, pl, k))


if __name__ == "__main__":
    main()
