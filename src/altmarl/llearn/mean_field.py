"""L-LEARN against the mean field (large ``k``): the representative agent's best response
to the population's mean-field flow under the current shared policy (SPEC §4e)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import gammaln

from altmarl.counts import CountSpace, rank_count
from altmarl.errors import AltmarlError
from altmarl.game import TabularGame
from altmarl.llearn.common import (
    LLearnInfo,
    check_horizon,
    check_inputs,
    default_T,
    start_policy,
)
from altmarl.llearn.reductions import truncation_bound
from altmarl.oracles import LLearnResult
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.seeding import Seed


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
    assert game.rho_l is not None  # a game has one of the two initializers
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
        q_table = global_policy.action_law(all_c)  # [G, C, Ag]
        log_coef = gammaln(k + 1) - gammaln(all_c + 1).sum(1)
    binom = cs.binom
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
            # the law at global state g, given the counts sampled for g
            law = global_policy.action_law(c.reshape(-1, L)).reshape(G, samples, D, G, Ag)
            q[:, t] = np.stack([law[g, :, :, g] for g in range(G)], axis=2).mean(axis=0)
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
    c = np.empty(L, dtype=np.int64)
    for d in range(D):
        for g in range(G):
            for _ in range(M):
                left = k
                rest = 1.0
                for j in range(L - 1):
                    p = mu[d, g, j] / rest if rest > 0 else 0.0
                    c[j] = rng.binomial(left, min(max(p, 0.0), 1.0)) if left > 0 else 0
                    left -= c[j]
                    rest -= mu[d, g, j]
                c[L - 1] = left
                out[d, g, table[g, rank_count(c, binom)]] += 1.0 / M


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
        seed: Seed = 0,
    ) -> LLearnResult[LocalPolicy]:
        start = time.perf_counter()
        check_inputs(game, global_policy, k)
        if int(self.iterations) != self.iterations or self.iterations < 1:
            raise AltmarlError(f"iterations = {self.iterations} must be an integer >= 1")
        pi = start_policy(game, local_policy)
        T = default_T(game, self.T, self.truncation_eps)
        root = np.random.default_rng(seed)
        mu0 = _initial_local(game, self.num_initial, root)
        G, L, A = game.num_sg, game.num_sl, max(game.num_ag, game.num_al)
        # the flow [D, T+1, G, L], the law of a_g [D, T, G, A_g], the agent's Q and weights
        per_step = 8 * (mu0.shape[0] * G * (L + A) + 3 * L * G * A)
        check_horizon(game, T, self.T is not None, per_step, "the mean-field flow")
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
        return LLearnResult(best, info)
