"""Environments for the RL ecosystem (Gymnasium, PettingZoo); needs the ``[pettingzoo]`` extra.

Importing this package registers the Gymnasium ids of :mod:`altmarl.envs.registration`
(``altmarl/RepresentativeAgent-v0``, ``altmarl/RepresentativeRobot-v0``) and imports only
gymnasium. The modules:

* :mod:`~altmarl.envs.representative` -- ``RepresentativeAgentEnv``: one local agent of the
  ``n``-agent system against a fixed pair (SPEC §4), a ``gymnasium.Env``;
* :mod:`~altmarl.envs.parallel` -- ``OnlineExecutionEnv``: online execution (Algorithm 5) of a
  tabular game as a PettingZoo ``ParallelEnv``, and ``PairActors`` to run a policy pair in it;
* :mod:`~altmarl.envs.rendering` -- the ``rgb_array`` frames every environment draws.

The continuous warehouse's environments live in :mod:`altmarl.continuous`
(``gym_env``, ``parallel_env``).
"""

from __future__ import annotations

from altmarl.envs.registration import ENV_IDS, register_envs

register_envs()

__all__ = ["ENV_IDS", "register_envs"]
