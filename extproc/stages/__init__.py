"""Policy stages, in the order a request meets them.

Each stage sees the request context and either lets the request go on (after
recording its decision on the context) or answers it with a `Reply`. Stages
take and return plain Python values; they never touch protobuf.
"""

from .base import Stage
from .routing import RoutingStage
from .accounting import AccountingStage
from .cost_control import CostControlStage
from .limits import LimitsStage
from .redaction import RedactionStage
from .cache import CacheStage

__all__ = ["Stage", "RoutingStage", "RedactionStage", "CacheStage", "CostControlStage", "AccountingStage", "LimitsStage"]
