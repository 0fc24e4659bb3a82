"""Policies: the one protocol (:class:`Policy`) and its implementations."""

from .base import POLICY_KINDS, Policy, load_policy, policy_from_dict, save_policy
from .classic import OrderUpTo, inventory_position
from .table import TablePolicy

__all__ = ["POLICY_KINDS", "OrderUpTo", "Policy", "TablePolicy", "inventory_position",
           "load_policy", "policy_from_dict", "save_policy"]
