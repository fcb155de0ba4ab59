"""GAP8 backend: tiled C in the style of the GAP8 SDK, a memory plan and a cycle model."""

from ._plan import NetworkPlan, plan_network, plan_table

__all__ = ["generate", "plan_network", "plan_table", "NetworkPlan"]


def generate(net, params, plan=None):
    from ._emit import generate as _generate

    return _generate(net, params, plan)
