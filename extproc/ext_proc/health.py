"""The gRPC health service: draining on SIGTERM, and the client that asks a service whether it serves.

Envoy health-checks each service process (`grpc_health_check` in envoy.yaml)
and stops opening streams to one after `unhealthy_threshold` failed checks.
A draining process reports NOT_SERVING and counts the checks that Envoy (and
only Envoy: its checks say `user-agent: Envoy/HC`) got that answer to, so it
knows when it may stop listening without refusing anyone. A Kubernetes probe
or an operator's check sees the same status but counts for nothing: they
neither tell the process that Envoy has noticed, nor keep it waiting.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# The user agent of Envoy's active health checker, gRPC checks included.
ENVOY_HEALTH_CHECKER = "Envoy/HC"
SERVING = health_pb2.HealthCheckResponse.SERVING


class DrainingHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]  # grpcio-health-checking ships no types
    """The standard health service, counting the checks Envoy got NOT_SERVING for while draining."""

    def __init__(self) -> None:
        super().__init__()
        self.draining = False
        self._refused = 0
        self._seen = asyncio.Event()
        self._needed = 0

    async def Check(self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext) -> health_pb2.HealthCheckResponse:  # noqa: N802 - gRPC name
        """Answer as the standard servicer does; while draining, count Envoy's checks."""
        response = await super().Check(request, context)
        if self.draining and _from_envoy(context):
            self._refused += 1
            if self._refused >= self._needed:
                self._seen.set()
        return response

    def cut_short(self) -> None:
        """End a drain now (a second signal: the operator or the supervisor will not wait)."""
        self._seen.set()

    async def drain(self, checks: int, timeout: float) -> bool:
        """Report NOT_SERVING, then wait for `checks` of Envoy's health checks (True) or `timeout` seconds (False)."""
        self._needed = checks
        self.draining = True
        await self.enter_graceful_shutdown()
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(self._seen.wait(), timeout)
        except TimeoutError:
            return False
        return True


def _from_envoy(context: grpc.aio.ServicerContext) -> bool:
    agent = dict(context.invocation_metadata() or ()).get("user-agent", "")
    return isinstance(agent, str) and agent.startswith(ENVOY_HEALTH_CHECKER)


def wait_serving(target: str, timeout: float, still_starting: object = None) -> bool:
    """Block until the health service at `target` says SERVING (True), or `timeout` seconds pass (False).

    `still_starting`, when given, is called between tries (it raises to give up early)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if callable(still_starting):
                still_starting()
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == SERVING:
                    return True
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def serving_problem(target: str, timeout: float) -> str | None:
    """Why the service at `target` is not SERVING, in a sentence; None when it is.

    It asks with Watch, not Check: a probe must never look like Envoy's checks to a drain."""
    try:
        with grpc.insecure_channel(target) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            status = next(iter(stream)).status
            stream.cancel()
    except grpc.RpcError as exc:
        return f"The ext_proc service at {target} does not answer its health check ({exc.code().name})."
    except StopIteration:
        return f"The ext_proc service at {target} closed its health stream without a status."
    if status != SERVING:
        return f"The ext_proc service at {target} reports {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}."
    return None
