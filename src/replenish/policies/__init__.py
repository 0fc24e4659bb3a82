"""Policies: the one protocol (:class:`Policy`) and its implementations."""

from replenish.policies.adapters import CallablePolicy, SB3Policy, from_callable, from_sb3
from replenish.policies.base import (
    POLICY_KINDS,
    SUFFIX_LOADERS,
    Policy,
    load_policy,
    policy_from_dict,
    save_policy,
)
from replenish.policies.classic import (
    SQ,
    SS,
    CappedBaseStock,
    ConstantOrder,
    Myopic,
    OrderUpTo,
    WeekdayBaseStock,
    inventory_position,
)
from replenish.policies.table import TablePolicy

__all__ = ["POLICY_KINDS", "SQ", "SS", "CallablePolicy", "CappedBaseStock", "ConstantOrder", "Myopic",
           "OrderUpTo", "Policy", "SB3Policy", "TablePolicy", "WeekdayBaseStock", "from_callable",
           "from_sb3", "inventory_position", "load_policy", "policy_from_dict", "save_policy"]


def _load_pt(path):  # type: ignore[no-untyped-def]
    """Lazy ``.pt`` loader (DQN policies): imports torch only when such a file is loaded."""
    from replenish.policies.dqn import load_dqn_policy

    return load_dqn_policy(path)


SUFFIX_LOADERS.setdefault(".pt", _load_pt)
