"""An OTLP/gRPC trace collector that accepts spans and drops them, for the suite's traced row.

    python -m benchmarks.null_collector --port 4317

It runs in a process of its own, so its CPU is not the gateway's, as the fake
provider's is not. It answers the standard gRPC health check, so the suite
waits for it as the launcher waits for a service process.
"""

from __future__ import annotations

import argparse
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class NullTraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """Accepts every export."""

    def Export(self, request, context):  # noqa: N802, ANN001, ANN201  # gRPC's servicer signature
        return trace_service_pb2.ExportTraceServiceResponse()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(NullTraceService(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)  # "" is SERVING from the start
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
