"""Jitted parts of one rollout step of the continuous warehouse (SPEC §6, §7 G.2), the glue
between the few torch calls a step keeps (the random draws, the networks, ``exp`` and the
mean over robots).

Why: a step of :func:`~altmarl.continuous.rollout.simulate` on a batch of a few thousand
robots was some sixty small torch operations (bins, the subsample's histogram, the mode,
the robots' observations, the rewards' arithmetic, the transitions), each costing more in
dispatch than in arithmetic; two jitted passes do the same work.

Why the results are the same bits as :mod:`~altmarl.continuous.env`'s torch kernels: the
passes do the same IEEE float32 operations in the same order (every constant rounded to
float32 first, as torch rounds a Python scalar to the tensor's type; no fused
multiply-adds); everything whose float32 result depends on the implementation stays in
torch on tensors of the same shapes: ``exp`` (torch's vectorised ``exp`` differs from libm
in the last bit), the networks, the softmax and the mean over robots (its summation
order). The ``k`` robots of a subsample are the ``k`` smallest keys, as
``torch.topk`` picks them; when the ``k``-th and ``(k+1)``-th smallest keys are equal (float32
uniforms coincide, about once in 10^5 rows at ``n = 500``) the set is not determined by
the keys alone and the caller asks ``torch.topk`` (:func:`observe` reports the tie).
``tests/continuous/test_step_kernels.py`` checks every pass against the torch kernels.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_F = np.float32
_BIN_SHIFT = _F(1.6)  # bin_index: round((s + 1.6) / 0.8), clamped to 0..4
_BIN_WIDTH = _F(0.8)
_LAST_BIN = _F(4.0)
_ZERO = _F(0.0)


@nb.njit(cache=True)
def observe(
    s_g: np.ndarray,
    s_l: np.ndarray,
    keys: np.ndarray,
    u_l: np.ndarray,
    k: int,
    same: np.ndarray,
    reward_width: np.float32,
    obs_g: np.ndarray,
    modes: np.ndarray,
    arg_l: np.ndarray,
    robot_obs: np.ndarray,
    robot_u: np.ndarray,
    rows: np.ndarray,
) -> tuple[int, bool]:  # pragma: no cover
    """Everything a step reads from the state before anyone acts.

    Inputs: ``s_g [R]``, ``s_l [R, n]`` for ``R = C E`` rows (copy ``c`` of episode ``e`` in
    row ``c E + e``); the step's subsample keys ``keys [E, n]`` and robot uniforms
    ``u_l [E, n]``, drawn once per episode and shared by its copies; ``same [R]``: the row is
    still in its copy-0 row's state (the first ``E`` entries are ignored).

    Outputs: ``obs_g [R, 6]`` the dispatcher's observation ``(s_g, histogram of the k
    smallest keys' bins)``; ``modes [R]`` the population's mode (ties: lowest bin);
    ``arg_l [R, n] = -(s_i - s_g)^2 / reward_width`` (``exp`` of it is ``r_l``'s bonus);
    the rows the robot network must run on, ``rows[:M]`` (copy 0, then the rows that left
    it), with their observations ``robot_obs[:M] [M, n, 2]`` and uniforms ``robot_u[:M]``.
    Returns ``M`` and whether some episode's ``k``-th smallest key is tied with the next
    (then the histograms are not determined here: module docstring).
    """
    R, n = s_l.shape
    E = keys.shape[0]
    nbins = obs_g.shape[1] - 1
    chosen = np.empty((E, n), dtype=np.bool_)
    tie = False
    for e in range(E):
        if k >= n:
            chosen[e, :] = True
            continue
        part = np.partition(keys[e], k - 1)
        kth = part[k - 1]
        nxt = part[k]
        for i in range(k + 1, n):
            nxt = min(nxt, part[i])
        tie = tie or nxt == kth
        for i in range(n):
            chosen[e, i] = keys[e, i] <= kth
    k32 = _F(k)
    m = 0
    counts = np.zeros(nbins, dtype=np.int64)
    sub = np.zeros(nbins, dtype=np.int64)
    for r in range(R):
        e = r % E
        sg = s_g[r]
        counts[:] = 0
        sub[:] = 0
        for i in range(n):
            s = s_l[r, i]
            b = int(min(max(np.rint((s + _BIN_SHIFT) / _BIN_WIDTH), _ZERO), _LAST_BIN))
            counts[b] += 1
            if chosen[e, i]:
                sub[b] += 1
            d = s - sg
            arg_l[r, i] = -(d * d) / reward_width
        obs_g[r, 0] = sg
        best = 0
        for b in range(nbins):
            obs_g[r, 1 + b] = _F(sub[b]) / k32
            if counts[b] > counts[best]:
                best = b
        modes[r] = best
        if r < E or not same[r]:
            rows[m] = r
            for i in range(n):
                robot_obs[m, i, 0] = sg
                robot_obs[m, i, 1] = s_l[r, i]
                robot_u[m, i] = u_l[e, i]
            m += 1
    return m, tie


@nb.njit(cache=True)
def finish(
    s_g: np.ndarray,
    s_l: np.ndarray,
    a_g: np.ndarray,
    acted: np.ndarray,
    rows: np.ndarray,
    bonus: np.ndarray,
    z_g: np.ndarray,
    z_l: np.ndarray,
    tau: np.ndarray,
    offsets: np.ndarray,
    params: np.ndarray,
    same: np.ndarray,
    a_l: np.ndarray,
    r_l: np.ndarray,
    arg_g: np.ndarray,
    s_g_next: np.ndarray,
    s_l_next: np.ndarray,
) -> None:  # pragma: no cover
    """Everything a step does once the agents have acted.

    ``acted [M, n]`` the robot actions of ``rows[:M]`` (the others act as their copy-0 row);
    ``bonus [R, n] = exp(arg_l)``; ``z_g [E]``, ``z_l [E, n]`` the episodes' noises;
    ``params = (rl_scale, move_cost, steer, global_noise, local_noise, low, high,
    reward_width_g)`` as float32. Writes the robots' actions ``a_l [R, n]``, local rewards
    ``r_l = rl_scale * bonus - move_cost |delta[a_i]|``, ``arg_g = -(s_g - tau[a_g])^2 /
    reward_width_g`` (``exp`` of it is ``r_g``'s bonus), the next states
    (``env.global_step``/``env.local_step``), and clears ``same[r]`` where row ``r``'s
    dispatcher acted unlike its copy-0 row's.
    """
    R, n = s_l.shape
    E = z_g.shape[0]
    rl_scale, move_cost, steer, g_noise, l_noise = (
        params[0],
        params[1],
        params[2],
        params[3],
        params[4],
    )
    low, high, width_g = params[5], params[6], params[7]
    m = 0
    for r in range(R):
        e = r % E
        own = m < rows.shape[0] and rows[m] == r
        src = m if own else -1
        if own:
            m += 1
        for i in range(n):
            a = acted[src, i] if own else a_l[e, i]
            a_l[r, i] = a
            r_l[r, i] = rl_scale * bonus[r, i] - move_cost * abs(offsets[a])
            x = s_l[r, i] + offsets[a] + l_noise * z_l[e, i]
            s_l_next[r, i] = min(max(x, low), high)
        sg = s_g[r]
        d = sg - tau[a_g[r]]
        arg_g[r] = -(d * d) / width_g
        x = sg + steer * (tau[a_g[r]] - sg) + g_noise * z_g[e]
        s_g_next[r] = min(max(x, low), high)
        if r >= E and a_g[r] != a_g[e]:
            same[r] = False


@nb.njit(cache=True)
def inverse_cdf(p: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[j] = #{a < A - 1 : u[j] > p[0, j] + ... + p[a, j]}``: the action of uniform ``u[j]``
    under the probabilities ``p [A, N]`` (the bounds summed in float32 from the first, as
    ``SampledLocal`` summed them in torch; a ``u`` above a rounded-down last bound gets the
    last action)."""
    A, N = p.shape
    for j in range(N):
        bound = _ZERO
        action = 0
        for a in range(A - 1):
            bound = bound + p[a, j]
            action += u[j] > bound
        out[j] = action


@nb.njit(cache=True)
def stage_rewards(
    bonus_g: np.ndarray,
    mean_l: np.ndarray,
    rg_scale: np.float32,
    discount: np.float32,
    r: np.ndarray,
    returns: np.ndarray,
) -> None:  # pragma: no cover
    """``r = rg_scale * bonus_g + mean_l`` (SPEC eq. 1, ``bonus_g = exp(-(s_g - tau[a_g])^2
    / (2 w_g^2))``), then ``returns += discount * r``."""
    for i in range(r.shape[0]):
        r[i] = rg_scale * bonus_g[i] + mean_l[i]
        returns[i] += discount * r[i]
