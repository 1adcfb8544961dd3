"""Episodes people can watch: one episode of online execution (SPEC §6) as a GIF or MP4.

A tabular frame shows step ``t`` of Algorithm 5: the population's shares over the local
states, the ``k`` agents the global agent sampled (red dots, drawn inside their states'
bars: agents are exchangeable, so which dots is immaterial), the global state ``s_g(t)``
and the action ``a_g(t)`` chosen from that sample. A continuous frame (Appendix G.2) shows
the robots as points (position on the x axis, a fixed random height per robot so the crowd
stays visible), the sampled robots in red, the dispatcher's position ``s_g`` and the target
``tau[a_g]`` it steers to.

GIFs are written with Pillow, MP4s with ffmpeg (``.mp4`` needs ``ffmpeg`` on ``PATH``).
Rendering shows a progress bar on a terminal.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import animation
from tqdm.auto import tqdm

from altmarl.errors import AltmarlError
from altmarl.experiments.plotting import plt
from altmarl.game import TabularGame
from altmarl.policies import GlobalActor, LocalPolicy
from altmarl.scenarios import scenario_labels
from altmarl.scenarios.labels import Labels
from altmarl.seeding import Seed
from altmarl.simulate import evaluate

#: File suffixes an animation can be written as.
FORMATS = (".gif", ".mp4")
#: Frames per second; frame size in inches at :data:`DPI` (small enough to embed in a page:
#: a 100-step tabular GIF is 0.5-0.6 MB).
FPS = 8
DPI = 96
FIGSIZE = (7.5, 3.5)

_SAMPLE = "tab:red"
_BAR = "#9ecae1"
_ON = "#fdae6b"


@dataclass(frozen=True)
class TabularEpisode:
    """One recorded episode of online execution of a tabular pair (what a frame draws).

    occupancy : ``[H, S_l]`` shares of the ``n`` agents over local states at each step.
    sampled : ``[H, S_l]`` counts of the ``k`` sampled agents (``a_g`` is chosen from them).
    global_states, global_actions : ``[H]`` ``s_g(t)`` and ``a_g(t)``.
    discounted_return : the episode's ``sum_t gamma^t r_t``.
    """

    occupancy: np.ndarray
    sampled: np.ndarray
    global_states: np.ndarray
    global_actions: np.ndarray
    discounted_return: float
    n: int
    k: int
    name: str

    @property
    def horizon(self) -> int:
        return int(self.occupancy.shape[0])


def record_tabular_episode(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    *,
    n: int,
    k: int,
    horizon: int = 100,
    seed: Seed = 0,
) -> TabularEpisode:
    """Run one episode of online execution (Algorithm 5, the exact counts simulator) and
    keep what a frame draws."""
    rec = evaluate(
        game,
        global_policy,
        local_policy,
        n=n,
        k=k,
        rollouts=1,
        horizon=horizon,
        seed=seed,
        record=True,
    )
    assert rec.occupancy is not None and rec.sampled_counts is not None
    assert rec.global_states is not None and rec.global_actions is not None
    return TabularEpisode(
        occupancy=rec.occupancy[0],
        sampled=rec.sampled_counts[0],
        global_states=rec.global_states[0],
        global_actions=rec.global_actions[0],
        discounted_return=float(rec.returns[0]),
        n=n,
        k=k,
        name=game.name,
    )


def animate_tabular(
    episode: TabularEpisode,
    labels: Labels,
    out: str | Path,
    *,
    fps: int = FPS,
    progress: bool | None = None,
) -> Path:
    """Write ``episode`` as a GIF or MP4 (by ``out``'s suffix); returns the path."""
    out = check_output(out)
    L = episode.occupancy.shape[1]
    fig = plt.figure(figsize=FIGSIZE, dpi=DPI)
    grid = fig.add_gridspec(1, 2, width_ratios=(2.2, 1.0), wspace=0.08)
    ax = fig.add_subplot(grid[0])
    side = fig.add_subplot(grid[1])
    x = np.arange(L)
    bars = ax.bar(x, np.zeros(L), width=0.7, color=_BAR, edgecolor="#4a7fa8")
    dots = ax.scatter(
        [], [], s=16, color=_SAMPLE, zorder=3, label=f"the k sampled {labels.local_agents}"
    )
    counts = [
        ax.text(j, 0, "", ha="center", va="bottom", fontsize=8, color=_SAMPLE) for j in range(L)
    ]
    ax.set(xlim=(-0.6, L - 0.4), ylim=(0, 1.12), ylabel=f"share of {labels.local_agents}")
    ax.set_xticks(x)
    ax.set_xticklabels(labels.local_states, fontsize=8, rotation=20 if L > 4 else 0)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    state_boxes = _choice_column(side, 0.0, "state\ns_g", labels.global_states)
    action_boxes = _choice_column(
        side, 1.0, f"{labels.global_agent}'s\naction a_g", labels.global_actions
    )
    side.set(xlim=(-0.55, 1.55), ylim=(-0.8, max(len(state_boxes), len(action_boxes)) + 0.2))
    side.axis("off")
    title = fig.suptitle("", fontsize=10)
    # dot heights are drawn once: a dot's place inside its bar carries no information
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.28, 0.28, size=(episode.horizon, episode.k))
    height = rng.uniform(0.1, 0.9, size=(episode.horizon, episode.k))

    def draw(t: int) -> None:
        occ, c = episode.occupancy[t], episode.sampled[t]
        for bar, h in zip(bars, occ, strict=True):
            bar.set_height(h)
        state = np.repeat(x, c)
        ys = height[t, : state.size] * np.maximum(occ[state], 0.02)
        dots.set_offsets(np.column_stack([state + jitter[t, : state.size], ys]))
        for j, text in enumerate(counts):
            text.set_position((j, occ[j] + 0.01))
            text.set_text(str(int(c[j])) if c[j] else "")
        _highlight(state_boxes, int(episode.global_states[t]))
        _highlight(action_boxes, int(episode.global_actions[t]))
        title.set_text(
            f"{episode.name}: n = {episode.n}, k = {episode.k}   step {t + 1}/{episode.horizon}"
            f"   (episode return {episode.discounted_return:.1f})"
        )

    return write_animation(fig, draw, episode.horizon, out, fps=fps, progress=progress)


def animate_game(
    game: TabularGame,
    global_policy: GlobalActor,
    local_policy: LocalPolicy,
    out: str | Path,
    *,
    n: int,
    k: int,
    horizon: int = 100,
    seed: Seed = 0,
    fps: int = FPS,
    progress: bool | None = None,
) -> Path:
    """Record one episode of ``(pi_g, pi_l)`` on ``game`` and write it to ``out``."""
    check_output(out)
    episode = record_tabular_episode(
        game, global_policy, local_policy, n=n, k=k, horizon=horizon, seed=seed
    )
    return animate_tabular(episode, scenario_labels(game), out, fps=fps, progress=progress)


def animate_continuous_run(
    run_dir: str | Path,
    out: str | Path,
    *,
    n: int | None = None,
    k: int | None = None,
    horizon: int | None = None,
    seed: int = 0,
    fps: int = FPS,
    progress: bool | None = None,
) -> Path:
    """One episode of a continuous run directory (Appendix G.2; needs torch): robots as
    points, the sampled ones in red, the dispatcher's position and its target."""
    from dataclasses import replace

    from altmarl.continuous.env import BIN_CENTRES
    from altmarl.continuous.rollout import GreedyDispatcher, SampledLocal, simulate
    from altmarl.continuous.training import load_run

    out = check_output(out)
    config, dispatcher, policy = load_run(run_dir)
    w = replace(
        config.warehouse(),
        n=config.n if n is None else n,
        horizon=config.horizon if horizon is None else horizon,
    )
    k = config.k if k is None else k
    w.check_k(k)
    roll = simulate(w, GreedyDispatcher(dispatcher), SampledLocal(policy), k, 1, seed, record=True)
    assert roll.s_l is not None and roll.s_g is not None and roll.sampled is not None
    assert roll.global_actions is not None
    s_l, s_g = roll.s_l[:, 0].numpy(), roll.s_g[:, 0].numpy()
    sampled, a_g = roll.sampled[:, 0].numpy(), roll.global_actions[:, 0].numpy()
    H = s_l.shape[0]
    centres = np.asarray(BIN_CENTRES)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    lift = np.random.default_rng(0).uniform(0.05, 0.85, size=w.n)  # a robot's fixed height
    for edge in (centres[:-1] + centres[1:]) / 2:
        ax.axvline(edge, color="0.85", lw=0.8, zorder=0)
    crowd = ax.scatter(s_l[0], lift, s=6, color="0.55", zorder=1, label="robots")
    picked = ax.scatter([], [], s=18, color=_SAMPLE, zorder=3, label="the k sampled robots")
    here = ax.axvline(0, color="tab:blue", lw=1.6, label="dispatcher s_g")
    (goal,) = ax.plot([], [], "*", ms=14, color="tab:orange", label="target tau[a_g]", zorder=4)
    ax.set(xlim=(w.low, w.high), ylim=(0, 1.2), xlabel="position", yticks=[])
    ax.legend(loc="upper left", fontsize=7, ncol=4, frameon=False)
    fig.subplots_adjust(bottom=0.17)
    title = ax.set_title("", fontsize=10)

    def draw(t: int) -> None:
        crowd.set_offsets(np.column_stack([s_l[t], lift]))
        picked.set_offsets(np.column_stack([s_l[t, sampled[t]], lift[sampled[t]]]))
        here.set_xdata([s_g[t], s_g[t]])
        goal.set_data([centres[a_g[t]]], [0.94])
        title.set_text(
            f"continuous warehouse: n = {w.n}, k = {k}   step {t + 1}/{H}"
            f"   (episode return {float(roll.returns[0]):.1f})"
        )

    return write_animation(fig, draw, H, out, fps=fps, progress=progress)


def check_output(out: str | Path) -> Path:
    """``out`` as a path with a known suffix; ``.mp4`` only with ffmpeg on ``PATH``."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise AltmarlError(f"--out {out}: the file must end in {' or '.join(FORMATS)}")
    if out.suffix.lower() == ".mp4" and shutil.which("ffmpeg") is None:
        raise AltmarlError(f"--out {out}: writing MP4 needs ffmpeg on PATH; write a .gif instead")
    return out


def write_animation(
    fig: Any,
    draw: Callable[[int], None],
    frames: int,
    out: Path,
    *,
    fps: int = FPS,
    progress: bool | None = None,
) -> Path:
    """Render ``draw(t)`` for ``t < frames`` into ``out`` (GIF by Pillow, MP4 by ffmpeg)."""
    if fps < 1:
        raise AltmarlError(f"--fps {fps} must be >= 1")
    out = check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        writer: animation.AbstractMovieWriter = animation.PillowWriter(fps=fps)
    else:
        writer = animation.FFMpegWriter(
            fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"]
        )
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=frames, disable=not show, desc="frames", unit="frame")
    try:
        movie = animation.FuncAnimation(fig, draw, frames=frames, blit=False, repeat=False)
        movie.save(str(out), writer=writer, dpi=DPI, progress_callback=lambda i, n: bar.update(1))
    finally:
        bar.close()
        plt.close(fig)
    return out


def _choice_column(ax: Any, x: float, heading: str, names: tuple[str, ...]) -> list[Any]:
    """A column of named boxes, one per choice, the first at the top; returns the boxes."""
    top = len(names) - 1
    ax.text(x, top + 0.75, heading, ha="center", va="bottom", fontsize=8, weight="bold")
    return [
        ax.text(
            x,
            top - i,
            name,
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.6"},
        )
        for i, name in enumerate(names)
    ]


def _highlight(boxes: list[Any], chosen: int) -> None:
    for i, box in enumerate(boxes):
        box.get_bbox_patch().set_facecolor(_ON if i == chosen else "white")
