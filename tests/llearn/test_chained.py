"""Chained MDPs (``llearn/chained.py``, Algorithms 21, 28) against the k-agent system."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altmarl.counts import CountSpace, TupleSpace
from altmarl.errors import AltmarlError, MemoryBudgetError
from altmarl.game import TabularGame
from altmarl.llearn.chained import (
    k_chain_state_index,
    k_chained_mdp,
    mean_field_chained_mdp,
)
from altmarl.llearn.mdp import backward_induction, evaluate_restricted
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.scenarios import random_game


def dirichlet_game(seed: int, S_l: int = 2, S_g: int = 2) -> TabularGame:
    base = random_game(seed, num_local_states=S_l, num_global_states=S_g)
    return TabularGame.from_arrays(
        P_g=base.P_g,
        P_l=base.P_l,
        r_g=base.r_g,
        r_l=base.r_l,
        gamma=base.gamma,
        rho_g=base.rho_g,
        dirichlet_alpha=[0.3, 1.7][:S_l] if S_l == 2 else 0.5,
    )


def random_global_policy(game, k, seed, parameterization="mean-field"):
    rng = np.random.default_rng(seed)
    size = (CountSpace if parameterization == "mean-field" else TupleSpace)(k, game.num_sl).size
    table = rng.integers(0, game.num_ag, (game.num_sg, size))
    return GlobalPolicy(table, k, game.num_sl, game.num_ag, parameterization)


def brute_force_value(game, pi_g, pi_l, k, T) -> float:
    """T-step discounted value of the k-agent system over joint states (s_g, s_1..s_k),
    written without the chain code: exact expectation over the product kernel."""
    L, G = game.num_sl, game.num_sg
    tuples = list(itertools.product(range(L), repeat=k))
    X = len(tuples)
    cs = CountSpace(k, L)
    P_bar, r_bar = game.averaged_local(pi_l.probs)
    # a_g law per (g, tuple): a standard policy reads a uniformly random ordering
    q = np.zeros((G, X, game.num_ag))
    for x, tup in enumerate(tuples):
        counts = np.bincount(tup, minlength=L)
        for g in range(G):
            if pi_g.parameterization == "mean-field":
                q[g, x, pi_g.table[g, cs.rank(counts)]] = 1.0
            else:
                perms = list(itertools.permutations(tup))
                for perm in perms:
                    idx = sum(s * L ** (k - 1 - i) for i, s in enumerate(perm))
                    q[g, x, pi_g.table[g, idx]] += 1.0 / len(perms)
    # local joint kernel per g: product over replicas
    K = np.zeros((G, X, X))
    for g in range(G):
        for x, tup in enumerate(tuples):
            for y, tup2 in enumerate(tuples):
                K[g, x, y] = np.prod([P_bar[tup[i], g, tup2[i]] for i in range(k)])
    reward = np.array(
        [
            [q[g, x] @ game.r_g[g] + np.mean([r_bar[s, g] for s in tuples[x]]) for x in range(X)]
            for g in range(G)
        ]
    )
    V = np.zeros((G, X))
    for _ in range(T):
        Pg = np.einsum("gxa,gah->gxh", q, game.P_g)  # [g, x, g']
        V = reward + game.gamma * np.einsum("gxh,gxy,hy->gx", Pg, K, V)
    # initial law of an ordered tuple, by rising factorials (independent of gammaln)
    init = np.zeros(X)
    for x, tup in enumerate(tuples):
        c = np.bincount(tup, minlength=L)
        if game.dirichlet_alpha is not None:
            a = game.dirichlet_alpha
            num = np.prod([np.prod([a[j] + i for i in range(c[j])]) for j in range(L)])
            den = np.prod([a.sum() + i for i in range(k)])
            init[x] = num / den
        else:
            init[x] = np.prod(game.rho_l**c)
    return float(game.rho_g @ V @ init)


@pytest.mark.parametrize("make_game", [random_game, dirichlet_game])
@pytest.mark.parametrize("parameterization", ["mean-field", "standard"])
def test_k_chain_value_equals_k_agent_value(make_game, parameterization):
    game = make_game(3)
    k, T = 3, 4
    pi_g = random_global_policy(game, k, 11, parameterization)
    rng = np.random.default_rng(12)
    for pi_l in [
        LocalPolicy(rng.dirichlet(np.ones(game.num_al), size=(game.num_sl, game.num_sg))),
        LocalPolicy.deterministic(rng.integers(0, game.num_al, (game.num_sl, game.num_sg)), 2),
    ]:
        chain = k_chained_mdp(game, pi_g, k, T)
        assert chain.mdp.num_states == 2**3 * 2 * (1 + 3 * 2)
        assert chain.mdp.horizon == T * (k + 1)
        value = evaluate_restricted(chain.mdp, chain.shared_table(pi_l))
        assert value == pytest.approx(brute_force_value(game, pi_g, pi_l, k, T), rel=1e-10)


@pytest.mark.parametrize("make_game", [random_game, dirichlet_game])
def test_k_chain_value_equals_exact_value_of_online_execution(make_game):
    from altmarl.exact import exact_value

    game = make_game(4)
    k, T = 2, 5
    pi_g = random_global_policy(game, k, 13)
    pi_l = LocalPolicy(np.random.default_rng(14).dirichlet(np.ones(2), size=(2, 2)))
    chain = k_chained_mdp(game, pi_g, k, T)
    value = evaluate_restricted(chain.mdp, chain.shared_table(pi_l))
    assert value == pytest.approx(exact_value(game, pi_g, pi_l, k, k, horizon=T), rel=1e-9)


def test_micro_rewards_of_a_chain_sum_to_the_macro_reward():
    game = random_game(5, num_local_states=3)
    k = 3
    pi_g = random_global_policy(game, k, 15)
    chain = k_chained_mdp(game, pi_g, k, 2)
    mdp = chain.mdp
    R = mdp.reward  # [S, A], without the time weight
    P = mdp.P_at(0)
    rng = np.random.default_rng(16)
    cs = CountSpace(k, 3)
    for _ in range(20):
        reps = tuple(int(v) for v in rng.integers(0, 3, k))
        g = int(rng.integers(2))
        acts = rng.integers(0, 2, k)
        s = k_chain_state_index(chain, reps, g, None, 0)
        a_g = pi_g.table[g, cs.rank(np.bincount(reps, minlength=3))]
        macro = game.r_g[g, a_g] + np.mean([game.r_l[reps[i], g, acts[i]] for i in range(k)])
        total = R[s, 0]
        s = int(rng.choice(P.shape[1], p=P[s * 2].toarray().ravel()))
        pending = chain.decode(s)[2]
        for i in range(1, k + 1):
            cur, g_now, pend, ptr = chain.decode(s)
            assert (g_now, pend, ptr) == (g, pending, i)
            assert cur[i - 1] == reps[i - 1]  # replica i has not moved before its turn
            total += R[s, acts[i - 1]]
            row = P[s * 2 + acts[i - 1]].toarray().ravel()
            s = int(rng.choice(P.shape[1], p=row))
        assert total == pytest.approx(macro, rel=1e-12)
        end = chain.decode(s)
        assert end[1] == pending and end[3] == 0  # the pending global state is committed


@pytest.mark.parametrize("make_game", [random_game, dirichlet_game])
def test_mean_field_chain_matches_k_chain_for_deterministic_policies(make_game):
    game = make_game(6)
    k, T = 3, 3
    pi_g = random_global_policy(game, k, 17)
    kc = k_chained_mdp(game, pi_g, k, T)
    mc = mean_field_chained_mdp(game, pi_g, k, T)
    assert mc.mdp.horizon == T * (game.num_sl + 1)
    for acts in itertools.product(range(2), repeat=4):
        pi_l = LocalPolicy.deterministic(np.array(acts).reshape(2, 2), 2)
        v_k = evaluate_restricted(kc.mdp, kc.shared_table(pi_l))
        v_m = evaluate_restricted(mc.mdp, mc.shared_table(pi_l))
        assert v_m == pytest.approx(v_k, rel=1e-10)


def test_chain_optimum_bounds_every_shared_policy():
    game = random_game(7)
    pi_g = random_global_policy(game, 2, 18)
    chain = k_chained_mdp(game, pi_g, 2, 4)
    V, _, _ = backward_induction(chain.mdp)
    best_shared = max(
        evaluate_restricted(chain.mdp, np.eye(2)[list(a)])
        for a in itertools.product(range(2), repeat=4)
    )
    assert chain.mdp.initial @ V[0] >= best_shared - 1e-12


def test_refuses_chains_that_do_not_fit():
    game = random_game(8)
    pi_g = GlobalPolicy.constant(0, num_global_states=2, num_actions=2, k=30, num_local_states=2)
    with pytest.raises(MemoryBudgetError, match=r"k=30.*micro states"):
        k_chained_mdp(game, pi_g, 30, 5)
    pi_g = GlobalPolicy.constant(0, num_global_states=2, num_actions=2, k=400, num_local_states=2)
    with pytest.raises(MemoryBudgetError, match=r"k=400"):
        mean_field_chained_mdp(game, pi_g, 400, 5, max_states=10_000)
    with pytest.raises(AltmarlError, match="k = 3"):
        k_chained_mdp(game, pi_g, 3, 5)
