"""Gymnasium ids of altmarl's environments, registered by ``import altmarl.envs``.

* ``altmarl/RepresentativeAgent-v0`` -- a representative local agent of a tabular game under
  a fixed global policy (:class:`~altmarl.envs.representative.RepresentativeAgentEnv`);
  ``gymnasium.make(ID, game=..., global_policy=..., n=..., k=...)``.
* ``altmarl/RepresentativeRobot-v0`` -- the representative robot of the continuous warehouse
  (:class:`altmarl.continuous.gym_env.RepresentativeRobotEnv`, needs the ``[deep]`` extra).

Entry points are strings, so registering imports neither the environments nor torch: the
continuous environment's module is imported when that id is made.
"""

from __future__ import annotations

import gymnasium as gym

#: id -> entry point ("module:class").
ENV_IDS: dict[str, str] = {
    "altmarl/RepresentativeAgent-v0": "altmarl.envs.representative:RepresentativeAgentEnv",
    "altmarl/RepresentativeRobot-v0": "altmarl.continuous.gym_env:RepresentativeRobotEnv",
}


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with Gymnasium (again is a no-op)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
