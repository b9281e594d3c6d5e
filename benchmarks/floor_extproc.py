"""The floor: a grpc.aio ext_proc server that does nothing but route, as fast as Python can answer.

    python -m benchmarks.floor_extproc --uds /tmp/floor.sock

It answers whichever of the four messages per request the router filter
sends in its processing mode (request headers, buffered request body,
response headers, buffered response body; the suite's floors send 2, 3 and
4 of them) with the least a gateway must do: set `x-gateway-model` and
clear the route cache, so the shipped envoy.yaml routes the request. No
auth, no parsing, no policy. The suite runs it in place of the service, so
every run shows how much of the gateway's cost is the ext_proc round trips
in Python themselves, whatever the gateway's own code does.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import grpc
import uvloop
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

MODEL = "gpt-4o-mini"
_ROUTE = pb.CommonResponse(
    header_mutation=pb.HeaderMutation(
        set_headers=[base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key="x-gateway-model", raw_value=MODEL.encode()))]
    ),
    clear_route_cache=True,
)
_ANSWERS = {
    "request_headers": pb.ProcessingResponse(request_headers=pb.HeadersResponse()),
    "request_body": pb.ProcessingResponse(request_body=pb.BodyResponse(response=_ROUTE)),
    "response_headers": pb.ProcessingResponse(response_headers=pb.HeadersResponse()),
    "response_body": pb.ProcessingResponse(response_body=pb.BodyResponse()),
}


class FloorProcessor(pb_grpc.ExternalProcessorServicer):
    """Answers each message with a prebuilt reply."""

    async def Process(self, request_iterator, context):  # noqa: N802, ANN001, ANN201  # gRPC's servicer signature
        async for request in request_iterator:
            yield _ANSWERS[request.WhichOneof("request")]


async def serve(uds: str) -> None:
    """Serve ext_proc and gRPC health on a Unix socket until cancelled."""
    server = grpc.aio.server()
    pb_grpc.add_ExternalProcessorServicer_to_server(FloorProcessor(), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    Path(uds).unlink(missing_ok=True)
    server.add_insecure_port(f"unix:{uds}")
    await server.start()
    for name in ("", "envoy.service.ext_proc.v3.ExternalProcessor"):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uds", required=True, help="the Unix socket to listen on")
    uvloop.install()
    asyncio.run(serve(parser.parse_args().uds))


if __name__ == "__main__":
    main()
