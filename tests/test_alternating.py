"""ALTERNATING-MARL: the UPDATE rule, the driver, checkpoints and resume, the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from altmarl.alternating import (
    CONSERVATIVE_FRACTIONS,
    AlternatingConfig,
    AlternatingMARL,
    Estimate,
    ReusedAnswer,
    read_history,
    safeguard_candidates,
    update_rule,
)
from altmarl.errors import AltmarlError
from altmarl.oracles import (
    GLearnResult,
    LLearnResult,
    OracleInfo,
    PreviousAnswer,
    policy_fingerprint,
)
from altmarl.policies import GlobalPolicy, LocalPolicy
from altmarl.policy_dir import load_policy_dir
from altmarl.scenarios import warehouse

# ------------------------------------------------------------------- UPDATE by hand


@pytest.mark.parametrize(
    "old, new, eps, expected",
    [
        (10.0, 12.0, 0.5, "accept"),  # intervals [9.5,10.5] and [11.5,12.5]: disjoint, new ahead
        (10.0, 11.0, 0.5, "accept"),  # exactly 2 eps apart: intervals touch, new ahead
        (12.0, 10.0, 0.5, "reject"),
        (11.0, 10.0, 0.5, "reject"),
        (10.0, 10.9, 0.5, "terminate"),  # overlap
        (10.0, 9.2, 0.5, "terminate"),
    ],
)
def test_update_rule_cases(old, new, eps, expected):
    assert update_rule(old, new, eps) == expected


def test_update_rule_rejects_negative_tolerance():
    with pytest.raises(AltmarlError, match="eps_tol"):
        update_rule(1.0, 2.0, -0.1)


# ------------------------------------------------------------------- the driver, scripted

GAME = warehouse()
K = 2


def _pg(action: int) -> GlobalPolicy:
    return GlobalPolicy.constant(
        action, num_global_states=5, num_actions=5, k=K, num_local_states=5
    )


class _ScriptedGlobal:
    """Proposes constant dispatchers 1, 2, 3, ... in turn."""

    def __init__(self):
        self.calls = 0

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        self.calls += 1
        q = np.zeros((5, 15, 5))
        return GLearnResult(q, _pg(self.calls), OracleInfo(value=0.0, samples=7))


class _ScriptedLocal:
    def __init__(self):
        self.calls = 0

    def best_response(self, game, global_policy, k, *, local_policy=None, seed=0):
        self.calls += 1
        probs = np.zeros((5, 5, 3))
        probs[..., self.calls % 3] = 1.0
        return LLearnResult(LocalPolicy(probs), OracleInfo(value=0.0, samples=7))


class _ScriptedEvaluator:
    """Returns scripted (old, new) estimates, one pair per proposal."""

    def __init__(self, script):
        self.script = list(script)

    def estimate(self, game, pairs, seed):
        old, new = self.script.pop(0)
        return [Estimate(old, 0.0), Estimate(new, 0.0)]


def _driver(script, **kw):
    cfg = AlternatingConfig(k=K, n=10, eps_tol=0.5, **kw)
    return AlternatingMARL(
        GAME,
        cfg,
        global_oracle=_ScriptedGlobal(),
        local_oracle=_ScriptedLocal(),
        evaluator=_ScriptedEvaluator(script),
    )


def test_driver_accepts_rejects_and_stops_when_both_players_fail_to_improve():
    # local accept, global reject, local overlap -> both confirmed since last accept: stop
    res = _driver([(10, 12), (12, 10), (12, 12.3)], alternations=5).run(progress=False)
    assert [r.decision for r in res.history] == ["accept", "reject", "terminate"]
    assert res.accepted == 1 and res.rejected == 1 and res.terminated_early
    # the accepted local proposal is kept, the rejected global one is not
    np.testing.assert_array_equal(res.global_policy.table, _pg(0).table)
    assert res.local_policy.probs[0, 0, 1] == 1.0


def test_driver_overlap_of_one_player_does_not_stop_by_default():
    # local overlap (only local confirmed), global accept, local accept, global overlap,
    # local overlap -> stop after 5 proposals
    script = [(10, 10.2), (10, 12), (12, 14), (14, 14.1), (14, 13.9)]
    res = _driver(script, alternations=5).run(progress=False)
    assert [r.decision for r in res.history] == [
        "terminate",
        "accept",
        "accept",
        "terminate",
        "terminate",
    ]
    np.testing.assert_array_equal(res.global_policy.table, _pg(1).table)
    # the paper's literal rule stops at the first overlap
    res = _driver(script, alternations=5, stop_rule="first-overlap").run(progress=False)
    assert len(res.history) == 1 and res.terminated_early


def test_driver_runs_all_alternations_when_every_step_improves():
    script = [(10 + 2 * i, 12 + 2 * i) for i in range(6)]
    res = _driver(script, alternations=3).run(progress=False)
    assert res.accepted == 6 and not res.terminated_early
    # the estimated potential of the accepted sequence never decreases
    accepted = [r.new_value for r in res.history if r.decision == "accept"]
    assert accepted == sorted(accepted)
    assert [r.player for r in res.history] == ["local", "global"] * 3


class _TableScore:
    """Scores a pair by how many entries of its dispatcher table play ``favourite``
    (deterministic, so one call estimates every candidate on the same footing)."""

    def __init__(self, favourite: int):
        self.favourite = favourite
        self.calls: list[int] = []

    def estimate(self, game, pairs, seed):
        self.calls.append(len(pairs))
        return [Estimate(float((g.table == self.favourite).mean()) * 10, 0.0) for g, _ in pairs]


class _Proposes:
    """A global oracle that proposes a fixed table with a fixed Q."""

    def __init__(self, table, q):
        self.table, self.q = table, q

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        return GLearnResult(self.q, GlobalPolicy(self.table, K, 5, 5), OracleInfo(samples=7))


@pytest.mark.parametrize("reuse", [False, True])
def test_global_step_after_a_failed_local_one_reuses_the_last_answer(reuse):
    # order global, local: G accept, L reject (pi_l unchanged), G overlap -> stop
    script = [(10, 12), (12, 10), (12, 12.1)]
    driver = _driver(script, alternations=3, order=("global", "local"), reuse_global_response=reuse)
    res = driver.run(progress=False)
    assert [r.decision for r in res.history] == ["accept", "reject", "terminate"]
    inner = driver.global_oracle.inner if reuse else driver.global_oracle
    assert inner.calls == (1 if reuse else 2)
    last = res.history[-1]
    assert (last.samples == 0 and last.iterations == 0) == reuse


def test_reused_answer_is_the_greedy_policy_of_the_stored_q():
    q = np.zeros((5, 15, 5))
    q[..., 4] = 1.0
    q[0, :, 2] = 2.0
    pi_l = LocalPolicy.uniform(5, 5, 3)
    never = _ScriptedGlobal()
    res = ReusedAnswer(never).best_response(
        GAME,
        pi_l,
        K,
        global_policy=_pg(0),
        seed=np.random.default_rng(1),
        previous=PreviousAnswer(q, policy_fingerprint(pi_l)),
    )
    expected = np.full((5, 15), 4)
    expected[0] = 2
    np.testing.assert_array_equal(res.policy.table, expected)
    assert never.calls == 0 and res.q is q and res.info.samples == 0
    assert res.info.value == pytest.approx(q.max(axis=-1).mean())


def test_safeguard_candidates_are_conservative_updates_then_constants():
    # advantage of action 3 over the current action 0 rises along the 15 count states
    adv = np.tile(np.arange(15, dtype=float), (5, 1))  # max 14
    q = np.zeros((5, 15, 5))
    q[..., 3] = adv
    cands = safeguard_candidates(GAME, _pg(0), _pg(3), q)
    names = [c.name for c in cands]
    # constant 0 is the current policy and constant 3 the proposal: both left out
    assert names == [
        "conservative:0.25",
        "conservative:0.5",
        "conservative:0.75",
        "constant:1",
        "constant:2",
        "constant:4",
    ]
    for cand, f in zip(cands, (0.25, 0.5, 0.75), strict=False):
        switch = adv > f * 14
        np.testing.assert_array_equal(cand.policy.table, np.where(switch, 3, 0), err_msg=cand.name)
        assert 0 < switch.sum() < switch.size


def test_safeguarded_global_step_takes_the_best_candidate():
    """G-LEARN proposes a dispatcher the evaluator dislikes (constant 1); the paper's step
    rejects it, the safeguarded one accepts the constant the evaluator likes (2)."""
    q = np.zeros((5, 15, 5))
    q[..., 1] = np.arange(15.0)  # conservative candidates switch the top states only
    oracle = _Proposes(_pg(1).table, q)

    def run(candidates):
        ev = _TableScore(favourite=2)
        cfg = AlternatingConfig(
            k=K,
            n=10,
            eps_tol=0.5,
            order=("global",),
            alternations=2,
            global_candidates=candidates,
        )
        driver = AlternatingMARL(
            GAME, cfg, global_oracle=oracle, local_oracle=_ScriptedLocal(), evaluator=ev
        )
        return driver.run(progress=False), ev

    plain, ev = run("g-learn")
    assert [r.decision for r in plain.history] == ["terminate"]
    assert plain.history[0].candidate == "g-learn" and ev.calls == [2]
    np.testing.assert_array_equal(plain.global_policy.table, _pg(0).table)
    safe, ev = run("safeguarded")
    # current pair + G-LEARN's + 3 conservative + constants 2, 3, 4, all in one call
    assert ev.calls[0] == 1 + 1 + 3 + 3
    # then from constant 2 the best is the most conservative move towards 1 (11 of 15
    # entries still play 2: 7.33 < 10 - 2 eps_tol): rejected, and the run stops
    assert [(r.decision, r.candidate) for r in safe.history] == [
        ("accept", "constant:2"),
        ("reject", "conservative:0.75"),
    ]
    assert safe.history[1].new_value == pytest.approx(10 * 11 / 15)
    np.testing.assert_array_equal(safe.global_policy.table, _pg(2).table)


# ------------------------------------------------------------------- common random numbers


def test_rollout_evaluator_uses_common_random_numbers():
    """UPDATE compares pairs under common random numbers: every pair is estimated from the
    same seed, so a pair's estimate does not depend on which pairs share the call or their
    order, and the same pair twice gives the same number (not two independent draws)."""
    from altmarl.alternating import RolloutEvaluator

    ev = RolloutEvaluator(n=40, k=K, rollouts=25, horizon=15)
    pl = LocalPolicy(np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 5)))
    a, b = (_pg(1), pl), (_pg(3), pl)
    seed = np.random.SeedSequence([7, 3])
    twice = ev.estimate(GAME, [a, a], seed)
    assert twice[0] == twice[1] and twice[0].stderr > 0
    ab = ev.estimate(GAME, [a, b], seed)
    ba = ev.estimate(GAME, [b, a], seed)
    assert ab == ba[::-1] and ab[0] == twice[0]
    assert ev.estimate(GAME, [a], np.random.SeedSequence([7, 4]))[0] != twice[0]


def test_a_proposal_equal_to_the_current_pair_is_an_exact_tie_without_simulation():
    """A no-op proposal (an equal copy of the current local policy) has Delta = 0 exactly:
    UPDATE records an overlap with difference 0 and spends no rollouts on it, never a
    spurious accept or reject."""

    class _SameLocal:
        def best_response(self, game, global_policy, k, *, local_policy=None, seed=0):
            return LLearnResult(LocalPolicy(local_policy.probs.copy()), OracleInfo())

    cfg = AlternatingConfig(
        k=K, n=40, eps_tol=1e-9, update_rollouts=10, update_horizon=10, alternations=3,
        order=("local",), final_rollouts=2, final_horizon=5,
    )  # fmt: skip
    res = AlternatingMARL(GAME, cfg, local_oracle=_SameLocal()).run(progress=False)
    row = res.history[0]
    assert (row.difference, row.rollouts, row.half_width) == (0.0, 0, 0.0)
    assert [r.decision for r in res.history] == ["terminate"]


# ------------------------------------------------------------------- parameterization, warm start


def test_standard_parameterization_trains_the_mean_field_pair():
    """With the exact operator and exact evaluation, G-LEARN on ordered k-tuples has the
    same Q as on count vectors (tests/test_glearn.py), so a standard-parameterization run
    keeps standard global policies throughout and ends with the mean-field run's pair
    (its table read by counts) and value."""
    from games import sticky_two_zones

    game = sticky_two_zones(0)
    base = dict(
        k=2, n=3, evaluation="exact", m=None, local_oracle="planning", eps_tol=1e-4,
        alternations=3, order=("global", "local"),
    )  # fmt: skip
    mf = AlternatingMARL(game, AlternatingConfig(**base)).run(progress=False)
    sd = AlternatingMARL(game, AlternatingConfig(**base, parameterization="standard"))
    res = sd.run(progress=False)
    assert res.accepted >= 1
    assert res.global_policy.parameterization == "standard"
    assert res.global_policy.table.shape == (2, 2**2)
    np.testing.assert_array_equal(res.global_policy.to_mean_field().table, mf.global_policy.table)
    np.testing.assert_array_equal(res.local_policy.probs, mf.local_policy.probs)
    assert res.value == pytest.approx(mf.value, rel=1e-12)
    assert [r.decision for r in res.history] == [r.decision for r in mf.history]


class _RecordingGLearn:
    """The real G-LEARN oracle, recording the warm start it was given and the Q it returned."""

    def __init__(self, **kw):
        from altmarl.glearn import GLearnOracle

        self.oracle = GLearnOracle(**kw)
        self.calls: list[tuple[np.ndarray | None, np.ndarray, int]] = []

    def best_response(self, game, local_policy, k, *, global_policy=None, seed=0, previous=None):
        res = self.oracle.best_response(game, local_policy, k, seed=seed, previous=previous)
        q0 = None if previous is None else previous.q
        self.calls.append((q0, res.q, res.info.iterations))
        return res


@pytest.mark.parametrize("warm_start", [True, False])
def test_warm_start_feeds_the_last_q_to_the_next_glearn_call(warm_start):
    """warm_start=True starts each G-LEARN call from the previous call's Q (the fixed point
    moves little between calls); warm_start=False starts every call from Q = 0. The fixed
    point does not depend on the start: both end with the same pair."""
    script = [(10 + 2 * i, 12 + 2 * i) for i in range(6)]  # every proposal is accepted

    def run(warm):
        oracle = _RecordingGLearn(m=10, tol=1e-10)
        cfg = AlternatingConfig(k=K, n=10, eps_tol=0.5, alternations=3, warm_start=warm)
        driver = AlternatingMARL(
            GAME, cfg, global_oracle=oracle, local_oracle=_ScriptedLocal(),
            evaluator=_ScriptedEvaluator(script),
        )  # fmt: skip
        return driver.run(progress=False), oracle.calls

    res, calls = run(warm_start)
    assert len(calls) == 3 and calls[0][0] is None
    for (_, q_prev, _), (q0, _, _) in itertools.pairwise(calls):
        if warm_start:
            assert q0 is not None and np.array_equal(q0, q_prev)
        else:
            assert q0 is None
    other, _ = run(not warm_start)
    np.testing.assert_array_equal(res.global_policy.table, other.global_policy.table)


def test_history_records_the_comparison_and_auto_picks_the_evaluation(tmp_path):
    """A rollout run records each decision's paired difference, half-width, truncation bias
    and rollouts (UPDATE's horizon by default keeps the bias below eps_tol / 4); a tiny
    system under ``evaluation="auto"`` is evaluated exactly (no rollouts, no intervals)."""
    from altmarl.alternating.evaluators import truncation_tails
    from games import sticky_two_zones

    cfg = AlternatingConfig(**{**FAST, "alternations": 1})
    H = cfg.resolved_update_horizon(GAME)
    bias = truncation_tails(GAME, H)[1]
    assert bias <= cfg.eps_tol / 4 < truncation_tails(GAME, H - 1)[1]
    res = AlternatingMARL(GAME, cfg).run(tmp_path / "r", progress=False)
    assert "rollouts" in res.evaluation
    for row in read_history(tmp_path / "r" / "history.csv"):
        if row.rollouts:
            assert row.bias == pytest.approx(bias) and row.half_width > 0
            assert row.rollouts in SEQUENTIAL_LOOKS and row.difference == pytest.approx(
                row.new_value - row.old_value
            )
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["update_horizon"] == H and result["inconclusive"] == res.inconclusive
    tiny = AlternatingConfig(k=2, n=4, m=None, local_oracle="planning", eps_tol=1e-3)
    assert tiny.resolved_evaluation(sticky_two_zones(0))[0] == "exact"
    res = AlternatingMARL(sticky_two_zones(0), tiny).run(progress=False)
    assert res.evaluation.startswith("exact") and all(r.rollouts == 0 for r in res.history)


#: Cumulative rollouts per pair at the looks of FAST's sequential test (20, doubling, 1024).
SEQUENTIAL_LOOKS = (20, 40, 80, 160, 320, 640, 1024)


def test_config_validation():
    with pytest.raises(AltmarlError, match="k = 11 must be <= n = 10"):
        AlternatingMARL(GAME, AlternatingConfig(k=11, n=10))
    with pytest.raises(AltmarlError, match="order"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, order=("dispatcher",)))
    with pytest.raises(AltmarlError, match="global_candidates"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, global_candidates="all"))
    with pytest.raises(AltmarlError, match="initial_global_action"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, initial_global_action=7))
    with pytest.raises(AltmarlError, match="delta"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, delta=0.0))
    with pytest.raises(AltmarlError, match="max_update_rollouts"):
        AlternatingMARL(GAME, AlternatingConfig(k=1, n=10, max_update_rollouts=8))


# ------------------------------------------------------------------- checkpoints and resume

FAST = dict(
    k=3,
    n=200,
    eps_tol=1.0,
    update_rollouts=20,
    final_rollouts=10,
    final_horizon=40,
    alternations=3,
    local_options={"iterations": 1, "num_initial": 2},
    order=("global", "local"),
    seed=5,
)


class _Interrupt(Exception):
    pass


def _strip_timing(rows):
    # repr: a proposal equal to the current pair is not simulated and records nan estimates
    return [{k: repr(v) for k, v in r.without_timing().items()} for r in rows]


@pytest.mark.parametrize(
    "extra", [{}, {"global_candidates": "safeguarded", "reuse_global_response": True}]
)
def test_interrupt_and_resume_gives_the_uninterrupted_output(tmp_path, extra):
    cfg = AlternatingConfig(**FAST, **extra)
    full = AlternatingMARL(GAME, cfg).run(tmp_path / "full", progress=False)
    assert len(full.history) >= 3

    def stop_at_2(step):
        if step == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        AlternatingMARL(GAME, cfg).run(tmp_path / "cut", progress=False, on_step=stop_at_2)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert state["step"] == 2 and not state["finished"]
    with pytest.raises(AltmarlError, match="--resume"):
        AlternatingMARL(GAME, cfg).run(tmp_path / "cut", progress=False)
    resumed = AlternatingMARL(GAME, cfg).run(tmp_path / "cut", resume=True, progress=False)
    np.testing.assert_array_equal(resumed.global_policy.table, full.global_policy.table)
    np.testing.assert_array_equal(resumed.local_policy.probs, full.local_policy.probs)
    assert _strip_timing(resumed.history) == _strip_timing(full.history)
    assert resumed.value == full.value
    on_disk = _strip_timing(read_history(tmp_path / "cut" / "history.csv"))
    assert on_disk == _strip_timing(read_history(tmp_path / "full" / "history.csv"))
    a = load_policy_dir(tmp_path / "cut" / "policy", GAME)
    np.testing.assert_array_equal(a.local_policy.probs, full.local_policy.probs)


def test_resume_refuses_a_different_config(tmp_path):
    cfg = AlternatingConfig(**{**FAST, "alternations": 1})
    AlternatingMARL(GAME, cfg).run(tmp_path / "r", progress=False)
    other = AlternatingConfig(**{**FAST, "alternations": 1, "seed": 6})
    with pytest.raises(AltmarlError, match="seed=5"):
        AlternatingMARL(GAME, other).run(tmp_path / "r", resume=True, progress=False)


# ------------------------------------------------------------------- CLI


def test_train_cli_json_files_and_resume(tmp_path, cli, cli_json):
    out = tmp_path / "run"
    args = [
        "train",
        "--k",
        "3",
        "--n",
        "200",
        "--update-rollouts",
        "20",
        "--rollouts",
        "10",
        "--horizon",
        "40",
        "--alternations",
        "1",
        "--global-candidates",
        "safeguarded",
        "--reuse-global-response",
        "--tol",
        "1e-2",
        "--out",
        str(out),
    ]
    res = cli_json(*args)
    for key in (
        "accepted",
        "rejected",
        "terminated_early",
        "value",
        "value_ci",
        "seconds",
        "best_constant_dispatcher_value",
        "uniform_dispatcher_value",
    ):
        assert key in res
    assert res["value_ci"][0] <= res["value"] <= res["value_ci"][1]
    assert (out / "policy" / "policy.npz").is_file() and (out / "history.csv").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["k"] == 3 and config["game"]["name"] == "warehouse"
    assert config["global_candidates"] == "safeguarded"
    assert config["reuse_global_response"] is True and config["tol"] == 0.01
    names = {r.candidate for r in read_history(out / "history.csv")}
    allowed = {"l-learn", "g-learn", *(f"conservative:{f}" for f in CONSERVATIVE_FRACTIONS)}
    assert names <= allowed | {f"constant:{a}" for a in range(5)}
    code, _, err = cli(*args)
    assert code == 2 and "--resume" in err
    again = cli_json(*args, "--resume")
    assert again["value"] == res["value"]
    ev = cli_json(
        "evaluate",
        "--policy-dir",
        str(out / "policy"),
        "--scenario",
        "warehouse",
        "--n",
        "200",
        "--k",
        "3",
        "--rollouts",
        "5",
        "--horizon",
        "10",
    )
    assert {"value", "value_ci", "mode_mismatch_rate"} <= set(ev)


def test_certify_cli(tmp_path, cli_json, cli):
    from games import sticky_two_zones

    game = sticky_two_zones(0)
    game.to_npz(tmp_path / "g.npz")
    out = cli_json(
        "train",
        "--game",
        str(tmp_path / "g.npz"),
        "--k",
        "2",
        "--n",
        "3",
        "--evaluation",
        "exact",
        "--m",
        "exact",
        "--local-oracle",
        "planning",
        "--eps-tol",
        "0.001",
        "--out",
        str(tmp_path / "run"),
    )
    assert out["accepted"] >= 1
    cert = cli_json(
        "certify",
        "--game",
        str(tmp_path / "g.npz"),
        "--policy-dir",
        str(tmp_path / "run" / "policy"),
        "--n",
        "3",
        "--k",
        "2",
    )
    for key in (
        "value",
        "global_gap_upper",
        "local_gap_upper",
        "global_gap_restricted",
        "local_gap_restricted",
        "eps",
    ):
        assert key in cert
    assert cert["value"] == pytest.approx(out["value"])
    code, _, err = cli(
        "certify",
        "--game",
        str(tmp_path / "g.npz"),
        "--policy-dir",
        str(tmp_path / "run" / "policy"),
        "--n",
        "3",
        "--k",
        "3",
    )
    assert code == 2 and "differs from the policy's k" in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--k", "20", "--n", "10", "--out", "x"], "--k 20 must be <= --n 10"),
        (["train", "--k", "0", "--out", "x"], "argument --k"),
        (["train", "--m", "-1", "--out", "x"], "argument --m"),
        (["train", "--eps-tol", "0", "--out", "x"], "argument --eps-tol"),
        (["train", "--delta", "1", "--out", "x"], "argument --delta"),
        (
            ["train", "--update-rollouts", "64", "--max-update-rollouts", "32", "--out", "x"],
            "--max-update-rollouts 32 must be >= --update-rollouts 64",
        ),
        (["train", "--k", "3"], "--out"),
        (
            [
                "evaluate",
                "--policy-dir",
                "/nope",
                "--scenario",
                "warehouse",
                "--n",
                "5",
                "--k",
                "2",
            ],
            "needs policy.npz",
        ),
    ],
)
def test_bad_input_exits_2(cli, argv, needle):
    code, _, err = cli(*argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
