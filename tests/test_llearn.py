"""L-LEARN oracles (SPEC §4): agreement and ordering on tiny games, mean field at large k, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from altmarl.cli import main
from altmarl.counts import CountSpace
from altmarl.errors import AltmarlError
from altmarl.llearn import (
    LocalOracle,
    MeanFieldOracle,
    PlanningOracle,
    UCFHOracle,
    best_response,
    mean_field_flow,
)
from altmarl.llearn.chained import k_chained_mdp
from altmarl.llearn.mdp import evaluate_restricted
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import load_policy_dir, save_policy_dir
from altmarl.scenarios import random_game, warehouse

K, T = 2, 6


def tiny_setup(seed: int):
    game = random_game(seed)
    rng = np.random.default_rng(seed + 100)
    pi_g = GlobalPolicy(rng.integers(0, 2, (2, CountSpace(K, 2).size)), K, 2, 2)
    return game, pi_g


def shared_value(game, pi_g, pi_l, k=K, horizon=T) -> float:
    chain = k_chained_mdp(game, pi_g, k, horizon)
    return evaluate_restricted(chain.mdp, chain.shared_table(pi_l))


@pytest.mark.parametrize("seed", [0, 2])
def test_three_oracles_agree_and_are_ordered(seed):
    game, pi_g = tiny_setup(seed)
    start = LocalPolicy.uniform(2, 2, 2)
    v_start = shared_value(game, pi_g, start)
    results = {
        name: best_response(game, pi_g, K, oracle=name, T=T, seed=seed, local_policy=start)
        for name in ("planning", "ucfh", "mean-field")
    }
    exact = {name: shared_value(game, pi_g, r.policy) for name, r in results.items()}
    plan, ucb = results["planning"].info, results["ucfh"].info
    # the chain oracles' own values are exact k-agent values of the returned policy
    assert plan.value == pytest.approx(exact["planning"], rel=1e-12)
    assert ucb.value == pytest.approx(exact["ucfh"], rel=1e-12)
    assert ucb.start_value == pytest.approx(v_start, rel=1e-12)
    # unrestricted chain optimum >= best shared policy found >= projected optimum
    assert plan.chained_value >= plan.value - 1e-12
    assert plan.value >= plan.projected_value - 1e-12
    # UCFH's chained policy is no better than the optimum and within its eps of it
    eps = ucb.extra["ucfh_eps"]
    assert ucb.chained_value <= plan.chained_value + 1e-12
    assert ucb.chained_value >= plan.chained_value - eps
    assert ucb.extra["ucfh_optimistic"] >= plan.chained_value - 1e-9
    assert ucb.episodes > 0 and ucb.samples == ucb.episodes * T * (K + 1)
    # planning is at least as good as the projected UCFH policy up to UCFH's eps
    assert exact["planning"] >= exact["ucfh"] - eps
    # every oracle improves on the uniform start (up to a stated 0.05 for mean field)
    assert exact["planning"] >= v_start - 1e-12
    assert exact["ucfh"] >= v_start - eps
    assert exact["mean-field"] >= v_start - 0.05
    # mean field is a large-k approximation; at k = 2 it lands within 0.1 of planning
    assert exact["mean-field"] >= exact["planning"] - 0.1


def test_chain_variants_give_consistent_values():
    """Algorithm 28's chain and Algorithm 17's state rewards are alternative routes."""
    game, pi_g = tiny_setup(3)
    res = best_response(game, pi_g, K, oracle="planning", T=T, chain="mean-field")
    pol, info = res.policy, res.info
    assert np.allclose(pol.probs, np.eye(2)[pol.probs.argmax(axis=2)])
    # a deterministic shared policy has the same value on both chains
    assert info.value == pytest.approx(shared_value(game, pi_g, pol), rel=1e-10)
    plan = best_response(game, pi_g, K, oracle="planning", T=T).info
    assert info.value <= plan.chained_value + 1e-12
    res17 = best_response(
        game, pi_g, K, oracle="ucfh", T=3, state_rewards=True, max_episodes=3000, seed=1
    )
    pol17, info17 = res17.policy, res17.info
    assert info17.value == pytest.approx(shared_value(game, pi_g, pol17, horizon=3), rel=1e-12)
    assert info17.samples == info17.episodes * 2 * 3 * (K + 1)  # Algorithm 17 doubles H


def test_planning_is_a_local_optimum_of_the_shared_class():
    game, pi_g = tiny_setup(1)
    res = best_response(game, pi_g, K, oracle="planning", T=T)
    pol, info = res.policy, res.info
    acts = pol.probs.argmax(axis=2)
    assert np.allclose(pol.probs, np.eye(2)[acts])
    for s_l in range(2):
        for s_g in range(2):
            trial = acts.copy()
            trial[s_l, s_g] = 1 - trial[s_l, s_g]
            assert (
                shared_value(game, pi_g, LocalPolicy.deterministic(trial, 2)) <= info.value + 1e-12
            )


def test_mean_field_flow_is_exact_for_a_constant_global_policy():
    """With a_g independent of the subsample, one agent's (s_g, s_l) is a Markov chain, so
    the mean-field value is the k-agent system's exact value for every k."""
    game = random_game(3)
    pi_l = LocalPolicy(np.random.default_rng(4).dirichlet(np.ones(2), size=(2, 2)))
    for k in (1, 3):
        pi_g = GlobalPolicy.constant(1, num_global_states=2, num_actions=2, k=k, num_local_states=2)
        flow = mean_field_flow(
            game, pi_g, pi_l, k, T, mu0=game.rho_l[None], rng=np.random.default_rng(0)
        )
        assert flow.value == pytest.approx(shared_value(game, pi_g, pi_l, k), rel=1e-10)


def test_sampled_subsample_law_agrees_with_the_exact_one():
    game, pi_g = tiny_setup(5)
    pi_l = LocalPolicy.uniform(2, 2, 2)
    kw = dict(mu0=game.rho_l[None], rng=np.random.default_rng(1))
    exact = mean_field_flow(game, pi_g, pi_l, K, 10, **kw)
    sampled = mean_field_flow(game, pi_g, pi_l, K, 10, exact_limit=0, samples=20_000, **kw)
    # q entries are means of 20k Bernoulli draws (sd <= 0.0036); values are Lipschitz in q
    assert np.abs(sampled.q - exact.q).max() < 0.02
    assert sampled.value == pytest.approx(exact.value, rel=0.01)


def test_mean_field_oracle_on_the_warehouse_at_k50():
    game = warehouse()
    k = 50
    mode = CountSpace(k, 5).all().argmax(axis=1)
    pi_g = GlobalPolicy(np.tile(mode, (5, 1)), k, 5, 5)
    res = best_response(game, pi_g, k, oracle="mean-field", seed=3)
    pol, info = res.policy, res.info
    res2 = best_response(game, pi_g, k, oracle="mean-field", seed=3)
    again, info2 = res2.policy, res2.info
    assert np.array_equal(pol.probs, again.probs) and info.value == info2.value
    assert info.value > info.start_value  # better than uniform robots in its own estimate
    assert info.truncation_error <= 0.05 * game.value_bound
    assert pol.probs.shape == (5, 5, 3)
    # online execution (n = 1000 agents) confirms the improvement and the estimate
    from altmarl.simulate import evaluate

    kw = dict(n=1000, k=k, rollouts=200, horizon=info.T, seed=1)
    new = evaluate(game, pi_g, pol, **kw)
    old = evaluate(game, pi_g, LocalPolicy.uniform(5, 5, 3), **kw)
    assert new.mean - old.mean > 10 * np.hypot(new.stderr, old.stderr)
    # the mean-field estimate is an n -> infinity approximation: within 3% plus 4 s.e.
    assert abs(info.value - new.mean) <= 0.03 * new.mean + 4 * new.stderr


def test_oracles_satisfy_the_protocol_and_validate():
    for oracle in (UCFHOracle(), PlanningOracle(), MeanFieldOracle()):
        assert isinstance(oracle, LocalOracle)
    game, pi_g = tiny_setup(0)
    with pytest.raises(AltmarlError, match="oracle 'bogus'"):
        best_response(game, pi_g, K, oracle="bogus")
    with pytest.raises(AltmarlError, match="k = 2"):
        best_response(game, pi_g, 3, oracle="planning")
    with pytest.raises(AltmarlError, match="max_sweeps"):
        best_response(game, pi_g, K, oracle="mean-field", max_sweeps=3)
    with pytest.raises(AltmarlError, match="T = 0"):
        best_response(game, pi_g, K, oracle="planning", T=0)


# ---------------------------------------------------------------------- CLI


@pytest.fixture
def cli_inputs(tmp_path):
    game, pi_g = tiny_setup(0)
    path = tmp_path / "tiny.npz"
    game.to_npz(path)
    pdir = save_policy_dir(tmp_path / "start", pi_g, LocalPolicy.uniform(2, 2, 2))
    return path, pdir, pi_g


def test_cli_json_and_out(cli_inputs, tmp_path, capsys):
    path, pdir, pi_g = cli_inputs
    out = tmp_path / "new"
    argv = [
        "llearn",
        "--game",
        str(path),
        "--k",
        "2",
        "--global-policy-dir",
        str(pdir),
        "--oracle",
        "ucfh",
        "--T",
        "3",
        "--episodes",
        "500",
        "--json",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("oracle", "value", "seconds", "samples", "episodes"):
        assert key in result
    assert result["oracle"] == "ucfh" and 0 < result["episodes"] <= 500
    assert result["samples"] == result["episodes"] * 3 * 3
    pair = load_policy_dir(out)
    assert np.array_equal(pair.global_policy.table, pi_g.table)
    assert pair.meta["llearn"]["oracle"] == "ucfh"
    game = random_game(0)
    assert shared_value(game, pi_g, pair.local_policy, horizon=3) == pytest.approx(result["value"])


def test_cli_human_output(cli_inputs, capsys):
    path, pdir, _ = cli_inputs
    argv = [
        "llearn",
        "--game",
        str(path),
        "--k",
        "2",
        "--global-policy-dir",
        str(pdir),
        "--oracle",
        "planning",
        "--T",
        "3",
    ]
    assert main(argv) == 0
    assert "L-LEARN (planning, k=2, T=3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--k", "3"], "--k 3"),
        (["--k", "2", "--oracle", "planning", "--episodes", "10"], "--episodes"),
        (["--k", "0"], "--k"),
        (["--k", "2", "--oracle", "nope"], "--oracle"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(cli_inputs, capsys, extra, needle):
    path, pdir, _ = cli_inputs
    argv = ["llearn", "--game", str(path), "--global-policy-dir", str(pdir), *extra]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_cli_missing_policy_dir_exits_2(cli_inputs, tmp_path, capsys):
    path, _, _ = cli_inputs
    argv = ["llearn", "--game", str(path), "--k", "2", "--global-policy-dir", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "policy-dir" in capsys.readouterr().err
