"""Policy stages, in the order a request meets them.

Each stage sees the request context and either lets the request go on (after
recording its decision on the context) or answers it with a `Reply`. Stages
take and return plain Python values; they never touch protobuf.
"""

from extproc.stages.base import Stage
from extproc.stages.routing import RoutingStage
from extproc.stages.accounting import AccountingStage
from extproc.stages.cost_control import CostControlStage
from extproc.stages.limits import LimitsStage
from extproc.stages.redaction import RedactionStage
from extproc.stages.cache import CacheStage

__all__ = ["Stage", "RoutingStage", "RedactionStage", "CacheStage", "CostControlStage", "AccountingStage", "LimitsStage"]
