"""An OTLP/gRPC trace collector inside the test process: it keeps every span it is sent.

Envoy's OpenTelemetry tracer and the service's exporter send to it exactly as
they would to an OpenTelemetry Collector (`TraceService/Export`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from extproc.ops.launcher import free_port


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector got it, with plain Python values."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    start_ns: int
    end_ns: int


@dataclass
class Collector:
    """The spans received so far, and where to send more."""

    endpoint: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        """Keep the spans of one export call."""
        received = []
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            events=[(event.name, _attributes(event.attributes)) for event in span.events],
                            status_code=span.status.code,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """Every span received of one trace."""
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 20.0) -> list[ReceivedSpan]:
        """Poll until `predicate(spans)` holds; returns the spans then."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in spans})
                raise AssertionError(f"the collector never got the spans asked for; it has {names}")
            time.sleep(0.1)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collector: Collector) -> None:
        self._collector = collector

    def Export(self, request, context):  # noqa: N802, ANN001, ANN202  # gRPC's servicer signature
        self._collector.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def otlp_collector() -> Iterator[Collector]:
    """Serve OTLP/gRPC trace export on 127.0.0.1, a free port, for the `with` block."""
    port = free_port()
    collector = Collector(endpoint=f"127.0.0.1:{port}")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(collector), server)
    if server.add_insecure_port(collector.endpoint) == 0:
        raise OSError(f"cannot listen on {collector.endpoint}")
    server.start()
    try:
        yield collector
    finally:
        server.stop(grace=None)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None
