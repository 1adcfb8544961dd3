"""L-LEARN: best response of the shared local policy to a fixed global policy (SPEC §4).

Three oracles behind one interface (:class:`LocalOracle`):

* :class:`UCFHOracle` (``"ucfh"``) — the paper's route: the k-chained MDP (Algorithm 21,
  or Algorithm 28 with ``chain="mean-field"``) truncated to ``T`` macro steps (Lemma C.1),
  learned by UCFH from samples (SPEC §4d), then projected to the shared class by
  occupancy-weighted action frequencies at each observation ``(s_l, s_g)`` (SPEC §4e).
* :class:`PlanningOracle` (``"planning"``) — exact model-based optimisation of the shared
  policy on the same chained MDP: coordinate ascent over deterministic shared policies
  with exact evaluation, started from the projection of the chain's exact optimum and
  from the current policy (small ``k``).
* :class:`MeanFieldOracle` (``"mean-field"``) — the representative agent's best response
  against the population's mean-field flow under the current ``pi_l`` (large ``k``).

Values reported by the chain oracles are ``T``-step discounted values of the ``k``-agent
system (exact, on the chain); the mean-field oracle reports its mean-field estimate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numba
import numpy as np
from scipy.special import gammaln

from altmarl.chained import ChainedMDP, chained_mdp, global_action_probs
from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.mdp import (
    EpisodicMDP,
    backward_induction,
    evaluate_policy,
    evaluate_restricted,
    project_to_observations,
)
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.reductions import state_reward_mdp, truncation_bound, truncation_horizon, unlift_policy
from altmarl.ucfh import DEFAULT_KNOWNNESS, theory_knownness_threshold, ucfh

ORACLES: tuple[str, ...] = ("ucfh", "planning", "mean-field")

#: Default truncation target of Lemma C.1, as a fraction of ``r_max / (1 - gamma)``.
DEFAULT_TRUNCATION_FRACTION = 0.05


@dataclass(frozen=True)
class LLearnInfo:
    """What an L-LEARN oracle did.

    value : the oracle's own estimate of ``V(pi_g, pi_l_new)`` (``T``-step discounted).
    start_value : the same estimate for the starting ``pi_l`` (uniform if none was given).
    chained_value : value of the unrestricted chained policy found (ucfh, planning).
    projected_value : value of its projection to the shared class (ucfh, planning).
    episodes, samples : UCFH's episodes and sampled transitions (0 for model-based oracles).
    T : macro steps of the truncated horizon; truncation_error : Lemma C.1 bound for ``T``.
    num_states : micro states of the chained MDP (population-flow states for mean-field).
    """

    oracle: str
    value: float
    start_value: float
    seconds: float
    T: int
    truncation_error: float
    chained_value: float | None = None
    projected_value: float | None = None
    episodes: int = 0
    samples: int = 0
    num_states: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d.update(self.extra)
        return d


@runtime_checkable
class LocalOracle(Protocol):
    """A best-response routine for the shared local policy (ALTERNATING-MARL's L-LEARN)."""

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: int | np.random.Generator = 0,
    ) -> tuple[LocalPolicy, LLearnInfo]: ...


def default_T(game: TabularGame, T: int | None, truncation_eps: float | None) -> int:
    """``T`` as given, or the Lemma C.1 horizon for ``truncation_eps`` (default
    ``DEFAULT_TRUNCATION_FRACTION * r_max / (1 - gamma)``)."""
    if T is not None:
        if int(T) != T or T < 1:
            raise AltmarlError(f"T = {T} (macro steps) must be an integer >= 1")
        return int(T)
    eps = (
        DEFAULT_TRUNCATION_FRACTION * game.value_bound if truncation_eps is None else truncation_eps
    )
    return truncation_horizon(game.gamma, game.r_max, eps)


def _start_policy(game: TabularGame, local_policy: LocalPolicy | None) -> LocalPolicy:
    if local_policy is None:
        return LocalPolicy.uniform(game.num_sl, game.num_sg, game.num_al)
    local_policy.check_game(game.num_sl, game.num_sg, game.num_al)
    return local_policy


def _check_inputs(game: TabularGame, global_policy: GlobalPolicy, k: int) -> None:
    if int(k) != k or k < 1:
        raise AltmarlError(f"k = {k} must be an integer >= 1")
    if global_policy.k != k:
        raise AltmarlError(f"the global policy sees k = {global_policy.k} agents, not k = {k}")
    if (
        global_policy.num_global_states != game.num_sg
        or global_policy.num_actions != game.num_ag
        or global_policy.num_local_states != game.num_sl
    ):
        raise AltmarlError("the global policy does not fit the game's |S_g|, |A_g|, |S_l|")


def _chain_setup(
    game: TabularGame,
    global_policy: GlobalPolicy,
    k: int,
    local_policy: LocalPolicy | None,
    oracle: Any,
) -> tuple[LocalPolicy, int, ChainedMDP]:
    """What both chain oracles start from: checked inputs, the starting ``pi_l``, the
    horizon ``T`` (Lemma C.1) and the chained MDP of ``oracle.chain`` kind."""
    _check_inputs(game, global_policy, k)
    pi0 = _start_policy(game, local_policy)
    T = default_T(game, oracle.T, oracle.truncation_eps)
    return pi0, T, chained_mdp(game, global_policy, k, T, kind=oracle.chain)


# ---------------------------------------------------------------------- UCFH oracle


def _deployable(ch: ChainedMDP, table: np.ndarray) -> np.ndarray:
    """On Algorithm 28's chain one action moves a whole bin, so only a DETERMINISTIC shared
    policy keeps its chain value under online execution: round to the most frequent action
    there. On the k-chain every replica draws its own action; the table is kept."""
    if ch.kind == "mean-field":
        return np.eye(table.shape[1])[table.argmax(axis=1)]
    return table


@dataclass(frozen=True)
class UCFHOracle:
    """L-LEARN by UCFH on the chained MDP, projected to the shared class (SPEC §4a, §4d, §4e).

    eps : UCFH's target accuracy on the chain (default ``0.02 r_max / (1 - gamma)``).
    chain : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28; the projection is
        rounded to a deterministic policy, the one class whose chain value is its value).
    max_episodes : UCFH's episode budget (it stops earlier once certified ``eps``-optimal).
        UCFH pools its counts over time steps, as the chain's kernel is stationary.
    state_rewards : run on the Algorithm-17 MDP (state rewards, horizon ``2H``); UCFH
        accepts ``r(s, a, t)`` directly, so this is off by default.
    """

    T: int | None = None
    truncation_eps: float | None = None
    chain: str = "k"
    eps: float | None = None
    delta: float = 0.1
    max_episodes: int = 20_000
    knownness: int = DEFAULT_KNOWNNESS
    state_rewards: bool = False

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: int | np.random.Generator = 0,
    ) -> tuple[LocalPolicy, LLearnInfo]:
        start = time.perf_counter()
        pi0, T, ch = _chain_setup(game, global_policy, k, local_policy, self)
        mdp = ch.mdp
        eps = 0.02 * game.value_bound if self.eps is None else self.eps
        learn_on: EpisodicMDP = state_reward_mdp(mdp) if self.state_rewards else mdp
        res = ucfh(
            learn_on,
            eps=eps,
            delta=self.delta,
            max_episodes=self.max_episodes,
            knownness=self.knownness,
            pool_time=learn_on.stationary,
            seed=seed,
        )
        chain_policy = (
            unlift_policy(res.policy, mdp)
            if self.state_rewards
            else np.eye(mdp.num_actions)[res.policy]
        )
        chained_value = evaluate_policy(mdp, chain_policy)[0]
        table = _deployable(ch, project_to_observations(mdp, chain_policy))
        pi_new = ch.to_local_policy(table)
        value = evaluate_restricted(mdp, ch.shared_table(pi_new))
        info = LLearnInfo(
            oracle="ucfh",
            value=value,
            start_value=evaluate_restricted(mdp, ch.shared_table(pi0)),
            seconds=time.perf_counter() - start,
            T=T,
            truncation_error=truncation_bound(game.gamma, game.r_max, T),
            chained_value=chained_value,
            projected_value=value,
            episodes=res.episodes,
            samples=res.samples,
            num_states=mdp.num_states,
            extra={
                "ucfh_optimistic": res.v_optimistic,
                "ucfh_pessimistic": res.v_pessimistic,
                "ucfh_certified": res.certified,
                "ucfh_replans": res.replans,
                "ucfh_knownness": res.knownness,
                "ucfh_theory_knownness": theory_knownness_threshold(
                    learn_on.num_states, learn_on.num_actions, learn_on.horizon, eps, self.delta
                ),
                "ucfh_eps": eps,
                "chain": self.chain,
            },
        )
        return pi_new, info


# ---------------------------------------------------------------------- planning oracle


def coordinate_ascent(
    mdp: EpisodicMDP, start: np.ndarray, max_sweeps: int = 50, tol: float = 1e-12
) -> tuple[np.ndarray, float]:
    """Best deterministic observation-restricted policy reachable by single-observation
    changes from ``start`` (an int ``[O]`` action table), by exact evaluation.

    Returns ``(actions [O], value)``; the value never decreases along the way.
    """
    O, A = mdp.num_observations, mdp.num_actions
    eye = np.eye(A)
    acts = np.asarray(start, dtype=np.int64).copy()
    best = evaluate_restricted(mdp, eye[acts])
    for _ in range(max_sweeps):
        improved = False
        for o in range(O):
            for a in range(A):
                if a == acts[o]:
                    continue
                trial = acts.copy()
                trial[o] = a
                val = evaluate_restricted(mdp, eye[trial])
                if val > best + tol:
                    best, acts, improved = val, trial, True
        if not improved:
            break
    return acts, best


@dataclass(frozen=True)
class PlanningOracle:
    """L-LEARN by exact planning on the chained MDP (small ``k``; SPEC §4e "exact
    model-based planning on the same chained MDP").

    Candidates, each evaluated exactly in the shared class: the projection of the chain's
    unrestricted optimum, the starting policy, and coordinate ascent over deterministic
    shared policies from the greedy actions of both. The best candidate is returned, so
    its value is at least the starting policy's and the projected optimum's.

    chain : ``"k"`` (Algorithm 21) or ``"mean-field"`` (Algorithm 28; candidates are then
        deterministic, the class whose chain value is the ``k``-agent value).
    """

    T: int | None = None
    truncation_eps: float | None = None
    chain: str = "k"
    max_sweeps: int = 50

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: int | np.random.Generator = 0,
    ) -> tuple[LocalPolicy, LLearnInfo]:
        start = time.perf_counter()
        pi0, T, ch = _chain_setup(game, global_policy, k, local_policy, self)
        mdp = ch.mdp
        V, _, greedy = backward_induction(mdp)
        chained_value = float(mdp.initial @ V[0])
        projected = _deployable(ch, project_to_observations(mdp, greedy))
        start_table = ch.shared_table(pi0)
        start_value = evaluate_restricted(mdp, start_table)
        start_table = _deployable(ch, start_table)
        candidates = [
            (evaluate_restricted(mdp, projected), projected),
            (evaluate_restricted(mdp, start_table), start_table),
        ]
        projected_value = candidates[0][0]
        eye = np.eye(mdp.num_actions)
        for _, table in list(candidates):
            acts, val = coordinate_ascent(mdp, table.argmax(axis=1), self.max_sweeps)
            candidates.append((val, eye[acts]))
        value, best = max(candidates, key=lambda c: c[0])
        info = LLearnInfo(
            oracle="planning",
            value=value,
            start_value=start_value,
            seconds=time.perf_counter() - start,
            T=T,
            truncation_error=truncation_bound(game.gamma, game.r_max, T),
            chained_value=chained_value,
            projected_value=projected_value,
            num_states=mdp.num_states,
            extra={"chain": self.chain},
        )
        return ch.to_local_policy(best), info


# ---------------------------------------------------------------------- mean-field oracle


@dataclass(frozen=True)
class MeanFieldFlow:
    """The population's mean-field flow under ``(pi_g, pi_l)``, per initial draw ``d``.

    joint : ``[D, T+1, S_g, S_l]`` law of ``(s_g(t), s_l(t))`` of a representative agent.
    q : ``[D, T, S_g, A_g]`` law of ``a_g(t)`` given ``s_g(t)``, with the ``k`` sampled
        agents' counts ``~ Multinomial(k, mu_t(. | s_g))``.
    value : mean-field value ``sum_t gamma^t E[r_g + rbar_l]``, averaged over draws.
    """

    joint: np.ndarray
    q: np.ndarray
    value: float


def _initial_local(game: TabularGame, num_initial: int, rng: np.random.Generator) -> np.ndarray:
    if game.dirichlet_alpha is not None:
        return rng.dirichlet(game.dirichlet_alpha, size=num_initial)
    return game.rho_l[None, :].copy()


def mean_field_flow(
    game: TabularGame,
    global_policy: GlobalPolicy,
    local_policy: LocalPolicy,
    k: int,
    T: int,
    *,
    mu0: np.ndarray,
    rng: np.random.Generator,
    exact_limit: int = 20_000,
    samples: int = 128,
) -> MeanFieldFlow:
    """Propagate the mean-field flow for ``T`` steps from local laws ``mu0 [D, S_l]``.

    ``a_g``'s law at ``s_g`` uses the population's local law conditioned on ``s_g``; it is
    exact over ``C_k`` when ``|C_k| <= exact_limit`` and otherwise a Monte-Carlo average of
    ``samples`` multinomial subsamples per (draw, step, ``s_g``) from ``rng``.
    """
    G, L, Ag = game.num_sg, game.num_sl, game.num_ag
    D = mu0.shape[0]
    P_bar, r_bar = game.averaged_local(local_policy.probs)  # [L, G, L'], [L, G]
    cs = CountSpace(k, L)
    exact = cs.size <= exact_limit
    if exact:
        all_c = cs.all()
        q_table = global_action_probs(global_policy, all_c)  # [G, C, Ag]
        log_coef = gammaln(k + 1) - gammaln(all_c + 1).sum(1)
    # binom[x, j] = C(x, j): the combinatorial number system CountSpace ranks with
    binom = np.array([[math.comb(x, j) for j in range(L)] for x in range(k + L)], dtype=np.int64)
    joint = np.empty((D, T + 1, G, L))
    joint[:, 0] = game.rho_g[None, :, None] * mu0[:, None, :]
    q = np.empty((D, T, G, Ag))
    value = 0.0
    mean_mu = mu0
    for t in range(T):
        J = joint[:, t]
        nu = J.sum(axis=2)  # [D, G]
        # where s_g has no mass the conditional is irrelevant; use the marginal law
        mu = np.where(
            nu[..., None] > 0, J / np.where(nu > 0, nu, 1.0)[..., None], mean_mu[:, None, :]
        )
        mean_mu = J.sum(axis=1)
        if exact:
            with np.errstate(divide="ignore"):
                logmu = np.log(mu)  # [D, G, L]
            logp = log_coef[:, None, None] + np.einsum(
                "cl,dgl->cdg", all_c, np.where(np.isfinite(logmu), logmu, -1e300)
            )
            pmf = np.exp(logp)  # [C, D, G]
            q[:, t] = np.einsum("cdg,gca->dga", pmf, q_table)
        elif global_policy.parameterization == "mean-field":
            q[:, t] = 0.0
            _sampled_global_law(
                np.ascontiguousarray(mu),
                k,
                samples,
                global_policy.table,
                binom,
                rng,
                q[:, t],
            )
        else:
            c = rng.multinomial(k, mu, size=(samples, D, G))  # [M, D, G, L]
            acts = global_action_probs_batch(global_policy, c)  # [M, D, G, Ag]
            q[:, t] = acts.mean(axis=0)
        q[:, t] /= q[:, t].sum(axis=2, keepdims=True)
        Pg_eff = np.einsum("dga,gah->dgh", q[:, t], game.P_g)  # [D, G, G']
        rg = np.einsum("dga,ga->dg", q[:, t], game.r_g)
        value += game.gamma**t * float(
            (nu * rg).sum(1).mean() + (J * r_bar.T[None]).sum((1, 2)).mean()
        )
        joint[:, t + 1] = np.einsum("dgl,lgm,dgh->dhm", J, P_bar, Pg_eff)
    return MeanFieldFlow(joint, q, value)


@numba.njit(cache=True)
def _sampled_global_law(mu, k, M, table, binom, rng, out):  # pragma: no cover - jitted
    """``out[d, g, a] +=`` the frequency of ``pi_g(g, c) = a`` over ``M`` draws
    ``c ~ Multinomial(k, mu[d, g])`` (conditional binomials; ranks as in CountSpace)."""
    D, G, L = mu.shape
    for d in range(D):
        for g in range(G):
            for _ in range(M):
                left = k
                rest = 1.0
                bar = -1
                rank = 0
                for j in range(L - 1):
                    p = mu[d, g, j] / rest if rest > 0 else 0.0
                    c = rng.binomial(left, min(max(p, 0.0), 1.0)) if left > 0 else 0
                    left -= c
                    rest -= mu[d, g, j]
                    bar += c + 1
                    rank += binom[bar, j + 1]
                out[d, g, table[g, rank]] += 1.0 / M


def global_action_probs_batch(global_policy: GlobalPolicy, counts: np.ndarray) -> np.ndarray:
    """``[M, D, G, A_g]`` one-hot (or ordering-averaged) ``a_g`` for counts ``[M, D, G, L]``
    sampled at each global state ``g`` (the last-but-one axis)."""
    M, D, G, L = counts.shape
    if global_policy.parameterization == "mean-field":
        ranks = global_policy.space.rank(counts)  # [M, D, G]
        acts = global_policy.table[np.arange(G)[None, None, :], ranks]
        return np.eye(global_policy.num_actions)[acts]
    flat = counts.reshape(-1, L)
    q = global_action_probs(global_policy, flat)  # [G, M*D*G, Ag]
    q = q.reshape(G, M, D, G, -1)
    return np.stack([q[g, :, :, g] for g in range(G)], axis=2)


def representative_best_response(
    game: TabularGame, flow: MeanFieldFlow, T: int
) -> tuple[np.ndarray, np.ndarray]:
    """Backward induction for one agent over ``(s_l, s_g)`` against a fixed flow.

    The agent's ``a_g`` law at ``(s_l, s_g, t)`` mixes the flow's draws by their posterior
    weight ``P(d | s_l, s_g, t)``. Returns ``(Q [T, S_l, S_g, A_l], weights [T, S_l, S_g])``
    where ``weights = gamma^t P(s_l, s_g at t)`` (the population's discounted occupancy).
    """
    G, L, A = game.num_sg, game.num_sl, game.num_al
    gamma = game.gamma
    J = flow.joint  # [D, T+1, G, L]
    V = np.zeros((L, G))
    Q = np.empty((T, L, G, A))
    for t in range(T - 1, -1, -1):
        w = J[:, t]  # [D, G, L]
        tot = w.sum(axis=0)
        post = np.where(tot[None] > 0, w / np.where(tot > 0, tot, 1.0)[None], 1.0 / w.shape[0])
        q_eff = np.einsum("dgl,dga->lga", post, flow.q[:, t])  # [L, G, Ag]
        Pg_eff = np.einsum("lga,gah->lgh", q_eff, game.P_g)  # [L, G, G']
        # E[V(s_l', s_g')] = sum P_l(l'|l,g,a) Pg_eff(g'|l,g) V(l', g')
        cont = np.einsum("lgam,lgh,mh->lga", game.P_l, Pg_eff, V)
        Q[t] = game.r_l + gamma * cont
        V = Q[t].max(axis=2)
    occ = J[:, :T].mean(axis=0).transpose(0, 2, 1)  # [T, L, G]
    weights = gamma ** np.arange(T)[:, None, None] * occ
    return Q, weights


@dataclass(frozen=True)
class MeanFieldOracle:
    """Representative-agent best response against the mean-field flow (large ``k``).

    Each iteration propagates the flow of the current ``pi_l`` (SPEC §6's subsample law
    for ``a_g``, with the agents' law conditioned on ``s_g``), solves the representative
    agent's finite-horizon problem over ``(s_l, s_g)`` and returns the stationary policy
    greedy for the occupancy-weighted ``Q`` (``argmax_a sum_t gamma^t d_t Q_t``). The
    candidate with the best mean-field value (the start included) is returned. Holding
    the flow fixed is the mean-field (Nash) view of one agent; a shared deviation moves
    the flow too, hence the re-evaluation of every candidate on its own flow.

    iterations : best-response rounds (stops early at a fixed point).
    num_initial : Dirichlet draws of the initial local law (1 if ``rho_l`` is fixed).
    samples : subsamples per (draw, step, ``s_g``) when ``|C_k| > exact_limit``.
    """

    T: int | None = None
    truncation_eps: float | None = None
    iterations: int = 2
    num_initial: int = 8
    samples: int = 128
    exact_limit: int = 20_000

    def best_response(
        self,
        game: TabularGame,
        global_policy: GlobalPolicy,
        k: int,
        *,
        local_policy: LocalPolicy | None = None,
        seed: int | np.random.Generator = 0,
    ) -> tuple[LocalPolicy, LLearnInfo]:
        start = time.perf_counter()
        _check_inputs(game, global_policy, k)
        if int(self.iterations) != self.iterations or self.iterations < 1:
            raise AltmarlError(f"iterations = {self.iterations} must be an integer >= 1")
        pi = _start_policy(game, local_policy)
        T = default_T(game, self.T, self.truncation_eps)
        root = np.random.default_rng(seed)
        mu0 = _initial_local(game, self.num_initial, root)
        flow_seed = int(root.integers(2**62))

        def flow_of(p: LocalPolicy) -> MeanFieldFlow:
            # common random numbers: every candidate is judged on the same subsamples
            return mean_field_flow(
                game,
                global_policy,
                p,
                k,
                T,
                mu0=mu0,
                rng=np.random.default_rng(flow_seed),
                exact_limit=self.exact_limit,
                samples=self.samples,
            )

        flow = flow_of(pi)
        start_value = best_value = flow.value
        best = pi
        for _ in range(int(self.iterations)):
            Q, w = representative_best_response(game, flow, T)
            score = np.einsum("tlg,tlga->lga", w + 1e-300, Q)
            new = LocalPolicy.deterministic(score.argmax(axis=2), game.num_al)
            if np.array_equal(new.probs, pi.probs):
                break  # a fixed point: the best response to its own flow
            pi = new
            flow = flow_of(pi)
            if flow.value > best_value:
                best, best_value = pi, flow.value
        info = LLearnInfo(
            oracle="mean-field",
            value=best_value,
            start_value=start_value,
            seconds=time.perf_counter() - start,
            T=T,
            truncation_error=truncation_bound(game.gamma, game.r_max, T),
            num_states=game.num_sl * game.num_sg,
            extra={
                "subsample_law": "exact"
                if math.comb(k + game.num_sl - 1, game.num_sl - 1) <= self.exact_limit
                else f"sampled ({self.samples})",
            },
        )
        return best, info


# ---------------------------------------------------------------------- one entry point

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
    fields = cls.__dataclass_fields__
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
    seed: int | np.random.Generator = 0,
    T: int | None = None,
    **options: Any,
) -> tuple[LocalPolicy, LLearnInfo]:
    """L-LEARN (SPEC §4): a shared local policy that best-responds to ``global_policy``.

    ``oracle``: ``"ucfh"`` (:class:`UCFHOracle`), ``"planning"`` (:class:`PlanningOracle`)
    or ``"mean-field"`` (:class:`MeanFieldOracle`); ``T`` macro steps (default from
    Lemma C.1); other ``options`` are the chosen oracle's fields.
    """
    return make_oracle(oracle, T=T, **options).best_response(
        game, global_policy, k, local_policy=local_policy, seed=seed
    )
