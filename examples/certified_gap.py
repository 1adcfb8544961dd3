"""The Nash gap against k where it is known exactly (issue #12): a tiny game, n = 4.

For every k = 1..n: train by ALTERNATING-MARL (exact evaluation), certify the pair exactly
(the gap from the initial law and its supremum over every state of the count chain) and
exploit it (the best deviation found). Writes certified_gap_vs_k.png and .csv into the
directory given (default runs/certified) and prints the table.

    python examples/certified_gap.py [OUT]
"""

from __future__ import annotations

import os
import sys

from altmarl.experiments.certified import certified_gap_figure, certified_gap_rows

out = sys.argv[1] if len(sys.argv) > 1 else "runs/certified"
n = 3 if os.environ.get("ALTMARL_EXAMPLE_SMALL") else 4
rows = certified_gap_rows(n=n)
path = certified_gap_figure(out, rows)
head = ("eps init", "eps sup", "G restr", "G found", "L restr", "L found")
print(f"{'k':>2} " + " ".join(f"{h:>9}" for h in head))
for r in rows:
    print(
        f"{r['k']:>2} {r['eps_initial']:>9.4f} {r['eps_sup']:>9.4f} "
        f"{r['global_gap_restricted']:>9.4f} {r['global_gain']:>9.4f} "
        f"{r['local_gap_restricted']:>9.4f} {r['local_gain']:>9.4f}"
    )
print(f"figure: {path}")
