"""ALTERNATING-MARL (Algorithm 14) with the UPDATE rule (SPEC §5).

Starting from an initial pair (uniform ``pi_l``, a constant ``pi_g``), each alternation
asks the players in turn (default: local, then global) for a best response to the other's
current policy. Every proposal goes through UPDATE with tolerance radius ``eps_tol``:
value estimates of the old and the new pair, each with an interval of half-width
``eps_tol``;

* **accept** when the new pair leads by at least ``2 eps_tol`` (intervals disjoint, new ahead);
* **reject** (keep the old pair) when the old pair leads by at least ``2 eps_tol``;
* **terminate** when the intervals overlap: the current pair is an ``O(eps_tol)``-NE
  (Lemma D.14).

Every accepted step raises the potential ``V`` by at least ``eps_tol``, so at most
``r_max / ((1 - gamma) eps_tol)`` steps are accepted (Lemma D.15).

When the run stops. The paper stops at the first overlap (``stop_rule="first-overlap"``).
An overlap only says that the player who just moved has no improving best response, so by
default (``stop_rule="all-players"``) the run stops once EVERY player's latest proposal
since the last accepted step failed to improve (overlap or reject): only then is the
pair an approximate best response for both players, which is what an ``eps``-NE needs.
(With the literal rule, a global-first run on a tiny game stops with a local gap of 0.78
that the certificate exposes: ``tests/test_certify.py``.)

Runs are checkpointed after every proposal (current pair, history, step counter); all
randomness of step ``s`` is derived from ``SeedSequence([seed, s])``, so a resumed run
ends with exactly the policies of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from tqdm.auto import tqdm

from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.policies import (
    GlobalPolicy,
    LocalPolicy,
    load_policy_dir,
    save_policy_dir,
)

Decision = Literal["accept", "reject", "terminate"]
PLAYERS = ("local", "global")
STOP_RULES = ("all-players", "first-overlap")
GLOBAL_CANDIDATES = ("g-learn", "safeguarded")
#: Conservative updates switch to G-LEARN's action only where its advantage over the
#: current action exceeds this fraction of the largest advantage.
CONSERVATIVE_FRACTIONS = (0.25, 0.5, 0.75)


# ---------------------------------------------------------------------------- UPDATE


def update_rule(old_value: float, new_value: float, eps_tol: float) -> Decision:
    """UPDATE (SPEC §5) on estimates with intervals ``[v - eps_tol, v + eps_tol]``."""
    if eps_tol < 0:
        raise AltmarlError(f"eps_tol = {eps_tol} must be >= 0")
    if new_value - eps_tol >= old_value + eps_tol:
        return "accept"
    if old_value - eps_tol >= new_value + eps_tol:
        return "reject"
    return "terminate"


# ---------------------------------------------------------------------------- evaluators


@dataclass(frozen=True)
class Estimate:
    """A value estimate with its standard error (0 for exact evaluation)."""

    value: float
    stderr: float


class PairEvaluator(Protocol):
    """Estimates ``V`` of several pairs under common random numbers."""

    def estimate(
        self,
        game: TabularGame,
        pairs: Sequence[tuple[GlobalPolicy, LocalPolicy]],
        seed: int | np.random.SeedSequence,
    ) -> list[Estimate]: ...


@dataclass(frozen=True)
class RolloutEvaluator:
    """Online-execution rollouts on the ``n``-agent system, the same seed for every pair
    (common random numbers), so the comparison's noise is mostly shared."""

    n: int
    k: int
    rollouts: int = 100
    horizon: int = 100
    simulator: str = "counts"

    def estimate(self, game, pairs, seed) -> list[Estimate]:
        from altmarl.simulate import evaluate

        out = []
        for pi_g, pi_l in pairs:
            rng = np.random.default_rng(seed)
            res = evaluate(
                game,
                pi_g,
                pi_l,
                n=self.n,
                k=self.k,
                rollouts=self.rollouts,
                horizon=self.horizon,
                seed=rng,
                simulator=self.simulator,  # type: ignore[arg-type]
            )
            out.append(Estimate(res.mean, res.stderr))
        return out


@dataclass(frozen=True)
class ExactEvaluator:
    """Exact ``V`` on the count chain (tiny ``n``; :mod:`altmarl.exact`)."""

    n: int
    k: int

    def estimate(self, game, pairs, seed) -> list[Estimate]:
        from altmarl.exact import exact_value

        return [Estimate(exact_value(game, g, l, self.n, self.k), 0.0) for g, l in pairs]


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AlternatingConfig:
    """Everything that determines a training run (written to ``config.json``).

    eps_tol : UPDATE's tolerance radius; ``None`` means ``0.005 * r_max / (1 - gamma)``.
    evaluation : ``rollouts`` (online execution, common random numbers) or ``exact``.
    order : which player moves first in each alternation.
    global_candidates : ``g-learn`` (the paper: the global proposal is G-LEARN's policy) or
        ``safeguarded``: G-LEARN's greedy policy, its conservative versions (switch from
        the current action to G-LEARN's only where the ``Qhat`` advantage exceeds a
        fraction :data:`CONSERVATIVE_FRACTIONS` of the largest advantage) and the
        ``|A_g|`` constant dispatchers are estimated together with the current pair under
        common random numbers; the best is the proposal UPDATE judges. A superset of
        candidates can only raise the proposal's value, so Lemma D.15's potential argument
        is unchanged. It guards against G-LEARN's ``k``-agent surrogate rewarding a policy
        that chases the noise of a small fresh sample (docs/design.md).
    reuse_global_response : when the local policy has not changed since the last G-LEARN
        call, take that call's ``Qhat`` again (its greedy policy, ties broken afresh)
        instead of drawing a new empirical operator. Both are G-LEARN answers to the same
        question with the same guarantee; the reuse skips the most expensive part of the
        confirming global step that follows a failed local one.
    """

    k: int
    n: int = 1000
    alternations: int = 10
    order: tuple[str, ...] = ("local", "global")
    eps_tol: float | None = None
    evaluation: str = "rollouts"
    update_rollouts: int = 100
    update_horizon: int = 100
    final_rollouts: int = 50
    final_horizon: int = 100
    simulator: str = "counts"
    seed: int = 0
    initial_global_action: int = 0
    m: int | None = 30
    tol: float = 1e-6
    parameterization: str = "mean-field"
    local_oracle: str = "mean-field"
    local_options: dict[str, Any] = field(default_factory=dict)
    stop_rule: str = "all-players"
    warm_start: bool = True
    global_candidates: str = "g-learn"
    reuse_global_response: bool = False

    def validate(self, game: TabularGame) -> None:
        if self.k < 1:
            raise AltmarlError(f"k = {self.k} must be >= 1")
        if self.k > self.n:
            raise AltmarlError(f"k = {self.k} must be <= n = {self.n}")
        if self.alternations < 1:
            raise AltmarlError(f"alternations = {self.alternations} must be >= 1")
        if not self.order or any(p not in PLAYERS for p in self.order):
            raise AltmarlError(f"order {self.order} must list players from {PLAYERS}")
        if self.eps_tol is not None and not self.eps_tol > 0:
            raise AltmarlError(f"eps_tol = {self.eps_tol} must be > 0")
        if self.evaluation not in ("rollouts", "exact"):
            raise AltmarlError(f"evaluation {self.evaluation!r} must be 'rollouts' or 'exact'")
        if not 0 <= self.initial_global_action < game.num_ag:
            raise AltmarlError(
                f"initial_global_action = {self.initial_global_action} must lie in "
                f"[0, {game.num_ag})"
            )
        if self.stop_rule not in STOP_RULES:
            raise AltmarlError(f"stop_rule {self.stop_rule!r} must be one of {STOP_RULES}")
        if self.m is not None and self.m < 1:
            raise AltmarlError(f"m = {self.m} must be >= 1 (or None for the exact operator)")
        if self.global_candidates not in GLOBAL_CANDIDATES:
            raise AltmarlError(
                f"global_candidates {self.global_candidates!r} must be one of {GLOBAL_CANDIDATES}"
            )

    def resolved_eps_tol(self, game: TabularGame) -> float:
        return self.eps_tol if self.eps_tol is not None else 0.005 * game.value_bound

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AlternatingConfig:
        known = {f.name for f in fields(cls)}
        kw = {key: val for key, val in d.items() if key in known}
        kw["order"] = tuple(kw.get("order", ("local", "global")))
        return cls(**kw)


# ---------------------------------------------------------------------------- results


HISTORY_FIELDS = (
    "step",
    "alternation",
    "player",
    "decision",
    "candidate",
    "old_value",
    "old_stderr",
    "new_value",
    "new_stderr",
    "eps_tol",
    "old_low",
    "old_high",
    "new_low",
    "new_high",
    "oracle_value",
    "samples",
    "episodes",
    "iterations",
    "oracle_seconds",
    "update_seconds",
)

#: Columns that measure wall time; everything else is reproducible from the seed.
TIMING_FIELDS = ("oracle_seconds", "update_seconds")


@dataclass(frozen=True)
class AlternatingResult:
    """The final pair, the history of proposals and the final evaluation."""

    global_policy: GlobalPolicy
    local_policy: LocalPolicy
    history: list[dict[str, Any]]
    accepted: int
    rejected: int
    terminated_early: bool
    value: float
    value_ci: tuple[float, float]
    value_std: float
    seconds: float
    run_dir: Path | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "terminated_early": self.terminated_early,
            "proposals": len(self.history),
            "value": self.value,
            "value_ci": list(self.value_ci),
            "value_std": self.value_std,
            "seconds": self.seconds,
            "global_samples": int(
                sum(r["samples"] for r in self.history if r["player"] == "global")
            ),
            "local_samples": int(sum(r["samples"] for r in self.history if r["player"] == "local")),
        }


# ---------------------------------------------------------------------------- driver


def _make_global_oracle(config: AlternatingConfig):
    from altmarl.glearn import GLearnOracle

    return GLearnOracle(m=config.m, parameterization=config.parameterization, tol=config.tol)


def _make_local_oracle(config: AlternatingConfig):
    from altmarl.llearn import make_oracle

    return make_oracle(config.local_oracle, **config.local_options)


class AlternatingMARL:
    """Algorithm 14 with pluggable oracles (``GlobalOracle``, ``LocalOracle``).

    Parameters
    ----------
    game : the tabular game.
    config : an :class:`AlternatingConfig`.
    global_oracle, local_oracle : best-response routines; built from ``config`` if omitted.
    evaluator : UPDATE's value estimator; built from ``config`` if omitted.
    """

    def __init__(
        self,
        game: TabularGame,
        config: AlternatingConfig,
        *,
        global_oracle: Any | None = None,
        local_oracle: Any | None = None,
        evaluator: PairEvaluator | None = None,
    ) -> None:
        config.validate(game)
        self.game = game
        self.config = config
        self.global_oracle = global_oracle or _make_global_oracle(config)
        self.local_oracle = local_oracle or _make_local_oracle(config)
        if evaluator is None:
            if config.evaluation == "exact":
                evaluator = ExactEvaluator(config.n, config.k)
            else:
                evaluator = RolloutEvaluator(
                    config.n,
                    config.k,
                    config.update_rollouts,
                    config.update_horizon,
                    config.simulator,
                )
        self.evaluator = evaluator

    # -- initial pair ---------------------------------------------------------------
    def initial_pair(self) -> tuple[GlobalPolicy, LocalPolicy]:
        g, c = self.game, self.config
        pi_g = GlobalPolicy.constant(
            c.initial_global_action,
            num_global_states=g.num_sg,
            num_actions=g.num_ag,
            k=c.k,
            num_local_states=g.num_sl,
            parameterization=c.parameterization,  # type: ignore[arg-type]
        )
        return pi_g, LocalPolicy.uniform(g.num_sl, g.num_sg, g.num_al)

    def safeguard_candidates(
        self,
        pi_g: GlobalPolicy,
        pi_l: LocalPolicy,
        proposal: GlobalPolicy,
        q: np.ndarray | None,
    ) -> list[tuple[str, GlobalPolicy, LocalPolicy]]:
        """The safeguarded G step's extra candidates (see ``global_candidates``): conservative
        versions of ``proposal`` relative to ``pi_g``, then the constant dispatchers.
        Candidates whose table equals the current policy's or an earlier one's are left
        out, as they cannot change UPDATE's decision."""
        g, c = self.game, self.config
        seen = [pi_g.table, proposal.table]
        out: list[tuple[str, GlobalPolicy, LocalPolicy]] = []

        def add(name: str, table: np.ndarray) -> None:
            if any(np.array_equal(table, t) for t in seen):
                return
            seen.append(table)
            policy = GlobalPolicy(table, c.k, g.num_sl, g.num_ag, pi_g.parameterization)
            out.append((name, policy, pi_l))

        if q is not None and q.shape[:2] == pi_g.table.shape == proposal.table.shape:
            current = np.take_along_axis(q, pi_g.table[..., None], axis=-1)[..., 0]
            advantage = q.max(axis=-1) - current
            top = float(advantage.max())
            for f in CONSERVATIVE_FRACTIONS:
                add(f"conservative:{f}", np.where(advantage > f * top, proposal.table, pi_g.table))
        for a in range(g.num_ag):
            add(f"constant:{a}", np.full_like(pi_g.table, a))
        return out

    # -- one proposal ---------------------------------------------------------------
    def propose(
        self,
        player: str,
        pi_g: GlobalPolicy,
        pi_l: LocalPolicy,
        seed: np.random.SeedSequence,
        q0: np.ndarray | None = None,
    ) -> tuple[GlobalPolicy, LocalPolicy, dict[str, Any], np.ndarray | None]:
        """Ask ``player`` for a best response; returns the proposed pair, the oracle's info
        and (global proposals) the Q table, which warm-starts the next G-LEARN call."""
        k = self.config.k
        if player == "local":
            new_l, info = self.local_oracle.best_response(
                self.game, pi_g, k, local_policy=pi_l, seed=np.random.default_rng(seed)
            )
            d = info.as_dict()
            return (
                pi_g,
                new_l,
                {
                    "oracle_value": d.get("value", float("nan")),
                    "samples": int(d.get("samples", 0)),
                    "episodes": int(d.get("episodes", 0)),
                    "iterations": 0,
                    "oracle_seconds": float(d.get("seconds", 0.0)),
                },
                None,
            )
        res = self.global_oracle.best_response(
            self.game, pi_l, k, seed=np.random.default_rng(seed), q0=q0
        )
        d = res.info.as_dict()
        return _global_answer(
            res.policy,
            res.q,
            pi_g,
            pi_l,
            samples=int(d.get("samples", 0)),
            iterations=int(d.get("iterations", 0)),
            seconds=float(d.get("seconds", 0.0)),
        )

    def reuse_global(
        self,
        q: np.ndarray,
        pi_g: GlobalPolicy,
        pi_l: LocalPolicy,
        seed: np.random.SeedSequence,
    ) -> tuple[GlobalPolicy, LocalPolicy, dict[str, Any], np.ndarray]:
        """G-LEARN's answer from an earlier ``Qhat`` for the same ``pi_l`` (eq. 20's greedy
        policy, ties broken with this step's seed); no samples, no sweeps."""
        from altmarl.glearn import greedy_policy

        g, c = self.game, self.config
        table = greedy_policy(q, np.random.default_rng(seed))
        policy = GlobalPolicy(table, c.k, g.num_sl, g.num_ag, c.parameterization)  # type: ignore[arg-type]
        return _global_answer(policy, q, pi_g, pi_l, samples=0, iterations=0, seconds=0.0)

    # -- the loop -------------------------------------------------------------------
    def run(
        self,
        run_dir: str | Path | None = None,
        *,
        resume: bool = False,
        progress: bool | None = None,
        on_step: Callable[[int], None] | None = None,
    ) -> AlternatingResult:
        """Run Algorithm 14; with ``run_dir``, checkpoint after every proposal.

        ``resume=True`` continues the run found in ``run_dir`` (its config must match).
        ``on_step(step)`` is called after each checkpoint (tests use it to interrupt).
        """
        t0 = time.perf_counter()
        c, game = self.config, self.game
        eps_tol = c.resolved_eps_tol(game)
        ckpt = _Checkpoint(Path(run_dir)) if run_dir is not None else None
        pi_g, pi_l = self.initial_pair()
        history: list[dict[str, Any]] = []
        step0, terminated, elapsed0 = 0, False, 0.0
        # the last G-LEARN answer and the local policy it answered (warm start and reuse)
        q_warm: np.ndarray | None = None
        q_local = ""
        if ckpt is not None:
            if resume and ckpt.exists():
                ckpt.check_config(c)
                pi_g, pi_l, history, step0, terminated, elapsed0, q_warm, q_local = ckpt.load(game)
            elif ckpt.exists() and not resume:
                raise AltmarlError(
                    f"--out {ckpt.root} already holds a run; pass --resume to continue it "
                    "or choose another directory"
                )
            else:
                ckpt.start(c, game)
        total = c.alternations * len(c.order)
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=total, initial=step0, disable=not show, desc="alternations", unit="step")
        step = step0
        while step < total and not terminated:
            alternation, phase = divmod(step, len(c.order))
            player = c.order[phase]
            oracle_seed, eval_seed = np.random.SeedSequence([c.seed, step]).spawn(2)
            if (
                player == "global"
                and c.reuse_global_response
                and q_warm is not None
                and q_local == _fingerprint(pi_l)
            ):
                new_g, new_l, info, q = self.reuse_global(q_warm, pi_g, pi_l, oracle_seed)
            else:
                new_g, new_l, info, q = self.propose(
                    player, pi_g, pi_l, oracle_seed, q_warm if c.warm_start else None
                )
            if q is not None:
                q_warm, q_local = q, _fingerprint(pi_l)
            t1 = time.perf_counter()
            candidates = [("g-learn" if player == "global" else "l-learn", new_g, new_l)]
            if player == "global" and c.global_candidates == "safeguarded":
                candidates += self.safeguard_candidates(pi_g, pi_l, new_g, q)
            old_est, *new_ests = self.evaluator.estimate(
                game, [(pi_g, pi_l)] + [(g, l) for _, g, l in candidates], eval_seed
            )
            # first best wins: G-LEARN's policy keeps a tie
            best = max(range(len(candidates)), key=lambda i: new_ests[i].value)
            candidate, new_g, new_l = candidates[best]
            new_est = new_ests[best]
            decision = update_rule(old_est.value, new_est.value, eps_tol)
            row = {
                "step": step,
                "alternation": alternation,
                "player": player,
                "decision": decision,
                "candidate": candidate,
                "old_value": old_est.value,
                "old_stderr": old_est.stderr,
                "new_value": new_est.value,
                "new_stderr": new_est.stderr,
                "eps_tol": eps_tol,
                "old_low": old_est.value - eps_tol,
                "old_high": old_est.value + eps_tol,
                "new_low": new_est.value - eps_tol,
                "new_high": new_est.value + eps_tol,
                **info,
                "update_seconds": time.perf_counter() - t1,
            }
            history.append(row)
            if decision == "accept":
                # Lemma D.15: an accepted step raises the (estimated) potential by >= eps_tol.
                assert new_est.value >= old_est.value + eps_tol, (new_est, old_est, eps_tol)
                pi_g, pi_l = new_g, new_l
            terminated = _should_stop(history, c)
            step += 1
            bar.update(1)
            if ckpt is not None:
                ckpt.save(
                    pi_g,
                    pi_l,
                    history,
                    step,
                    terminated,
                    game,
                    elapsed0 + time.perf_counter() - t0,
                    q_warm,
                    q_local,
                )
            if on_step is not None:
                on_step(step)
        bar.close()
        # final evaluation of the pair (SPEC §7 protocol: rollouts x horizon)
        final = _final_evaluation(game, pi_g, pi_l, c)
        accepted = sum(r["decision"] == "accept" for r in history)
        rejected = sum(r["decision"] == "reject" for r in history)
        result = AlternatingResult(
            global_policy=pi_g,
            local_policy=pi_l,
            history=history,
            accepted=accepted,
            rejected=rejected,
            terminated_early=terminated and step < total,
            value=final[0],
            value_ci=final[1],
            value_std=final[2],
            seconds=elapsed0 + time.perf_counter() - t0,
            run_dir=ckpt.root if ckpt else None,
        )
        if ckpt is not None:
            ckpt.finish(result)
        return result


def _should_stop(history: list[dict[str, Any]], c: AlternatingConfig) -> bool:
    """Stop rule: the last proposal overlapped (paper), or every player has failed to
    improve since the last accepted step (default)."""
    last = history[-1]["decision"]
    if c.stop_rule == "first-overlap":
        return last == "terminate"
    if last == "accept":
        return False
    confirmed: set[str] = set()
    for row in reversed(history):
        if row["decision"] == "accept":
            break
        confirmed.add(row["player"])
    return confirmed >= set(c.order)


def _global_answer(
    policy: GlobalPolicy,
    q: np.ndarray,
    pi_g: GlobalPolicy,
    pi_l: LocalPolicy,
    *,
    samples: int,
    iterations: int,
    seconds: float,
) -> tuple[GlobalPolicy, LocalPolicy, dict[str, Any], np.ndarray]:
    """A global proposal in the current pair's parameterization, with its history fields."""
    if policy.parameterization != pi_g.parameterization:
        policy = policy.to_mean_field()
    info = {
        "oracle_value": float(q.max(axis=-1).mean()),
        "samples": samples,
        "episodes": 0,
        "iterations": iterations,
        "oracle_seconds": seconds,
    }
    return policy, pi_l, info, q


def _fingerprint(pi_l: LocalPolicy) -> str:
    return hashlib.sha256(np.ascontiguousarray(pi_l.probs).tobytes()).hexdigest()


def final_seed(config: AlternatingConfig) -> np.random.SeedSequence:
    """Seed of the final evaluation; baselines use it too (common random numbers)."""
    return np.random.SeedSequence([config.seed, 10**6])


def _final_evaluation(game, pi_g, pi_l, c: AlternatingConfig):
    if c.evaluation == "exact":
        from altmarl.exact import exact_value

        v = exact_value(game, pi_g, pi_l, c.n, c.k)
        return v, (v, v), 0.0
    from altmarl.simulate import evaluate

    res = evaluate(
        game,
        pi_g,
        pi_l,
        n=c.n,
        k=c.k,
        rollouts=c.final_rollouts,
        horizon=c.final_horizon,
        seed=final_seed(c),
        simulator=c.simulator,  # type: ignore[arg-type]
    )
    return res.mean, res.ci(), res.std


# ---------------------------------------------------------------------------- checkpoints


class _Checkpoint:
    """The run directory: ``config.json``, ``policy/``, ``history.csv``, ``state.json``.

    ``state.json`` is written last and atomically, so a run killed mid-write resumes
    from the previous complete checkpoint.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self) -> bool:
        return (self.root / "state.json").is_file()

    def start(self, config: AlternatingConfig, game: TabularGame) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = {**config.to_json(), "game": game.describe()}
        _atomic_write(self.root / "config.json", json.dumps(cfg, indent=2) + "\n")

    def check_config(self, config: AlternatingConfig) -> None:
        path = self.root / "config.json"
        saved = json.loads(path.read_text())
        want = config.to_json()
        diff = [k for k in want if k in saved and saved[k] != want[k]]
        if diff:
            key = diff[0]
            raise AltmarlError(
                f"--resume: {self.root} was trained with {key}={saved[key]!r}, "
                f"not {want[key]!r}; rerun with the original arguments"
            )

    def save(
        self, pi_g, pi_l, history, step, terminated, game, elapsed, q_warm=None, q_local=""
    ) -> None:
        save_policy_dir(
            self.root / "policy",
            pi_g,
            pi_l,
            game_fingerprint=game.fingerprint,
            extra_meta={"step": step},
        )
        write_history(self.root / "history.csv", history)
        if q_warm is not None:
            # the warm start of the next G-LEARN call: without it a resumed run could
            # break a near-tie differently from an uninterrupted one
            tmp = self.root / "q_warm.tmp.npy"
            np.save(tmp, q_warm)
            tmp.replace(self.root / "q_warm.npy")
        state = {
            "step": step,
            "terminated": terminated,
            "finished": False,
            "seconds": elapsed,
            "q_local": q_local,
        }
        _atomic_write(self.root / "state.json", json.dumps(state, indent=2) + "\n")

    def load(self, game):
        state = json.loads((self.root / "state.json").read_text())
        pair = load_policy_dir(self.root / "policy", game)
        history = read_history(self.root / "history.csv")
        step = int(state["step"])
        if len(history) != step:
            raise AltmarlError(
                f"--resume: {self.root} is inconsistent (history has {len(history)} rows, "
                f"state says step {step})"
            )
        q_path = self.root / "q_warm.npy"
        q_warm = np.load(q_path) if q_path.is_file() else None
        return (
            pair.global_policy,
            pair.local_policy,
            history,
            step,
            bool(state["terminated"]),
            float(state.get("seconds", 0.0)),
            q_warm,
            str(state.get("q_local", "")),
        )

    def finish(self, result: AlternatingResult) -> None:
        state = json.loads((self.root / "state.json").read_text()) if self.exists() else {}
        state.update({"finished": True, "seconds": result.seconds})
        _atomic_write(self.root / "result.json", json.dumps(result.summary(), indent=2) + "\n")
        _atomic_write(self.root / "state.json", json.dumps(state, indent=2) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: _fmt(row.get(k, "")) for k in HISTORY_FIELDS})
    tmp.replace(path)


def _fmt(v: Any) -> Any:
    # repr keeps every bit of a float, so a resumed history equals an uninterrupted one
    return repr(float(v)) if isinstance(v, float | np.floating) else v


def read_history(path: Path) -> list[dict[str, Any]]:
    ints = {"step", "alternation", "samples", "episodes", "iterations"}
    strs = {"player", "decision", "candidate"}
    rows = []
    with path.open(newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = {}
            for key, val in raw.items():
                if key in ints:
                    row[key] = int(val)
                elif key in strs:
                    row[key] = val
                else:
                    row[key] = float(val)
            rows.append(row)
    return rows
