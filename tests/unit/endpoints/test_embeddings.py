"""`POST /v1/embeddings`: the schema checks a client gets a clear 400 for."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from extproc.config.catalog import Endpoint, ModelRoute
from extproc.endpoints.embeddings import Embeddings, answer_bytes, check_answer_fits, tail_usage
from extproc.errors import GatewayError


@pytest.mark.parametrize(
    "body",
    [
        {"model": "embed", "input": "hello"},
        {"model": "embed", "input": ["a", "b"]},
        {"model": "embed", "input": [1, 2, 3]},
        {"model": "embed", "input": [[1, 2], [3]], "encoding_format": "base64", "dimensions": 256},
    ],
)
def test_valid_inputs_are_accepted(body: dict[str, Any]) -> None:
    assert Embeddings().parse(body).model == "embed"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"input": "x"}, "model"),
        ({"model": "embed"}, "input"),
        ({"model": "embed", "input": ""}, "input"),
        ({"model": "embed", "input": []}, "input"),
        ({"model": "embed", "input": ["a", 1]}, "input"),
        ({"model": "embed", "input": [[]]}, "input"),
        ({"model": "embed", "input": [-1]}, "input"),
        ({"model": "embed", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "embed", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "embed", "input": "x", "stream": True}, "stream"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(body: Any, param: str | None) -> None:
    with pytest.raises(GatewayError) as raised:
        Embeddings().parse(body)
    assert raised.value.status == 400 and raised.value.param == param


# --- what fits the route's buffer ----------------------------------------------------------------

MiB = 1 << 20
SMALL = Endpoint(cluster="c", address="a:1", priority=0, model="openai/text-embedding-3-small", provider="openai")


def _route(buffer_bytes: int | None, endpoint: Endpoint = SMALL) -> ModelRoute:
    return ModelRoute(name="e", cluster="c", endpoints=(endpoint,), kind="embeddings", buffer_bytes=buffer_bytes)


def test_the_largest_base64_answer_fits_the_shipped_embeddings_buffer() -> None:
    """2,048 inputs (OpenAI's maximum) of text-embedding-3-small, as the SDKs ask for them."""
    body = {"model": "e", "input": ["x"] * 2048, "encoding_format": "base64"}
    check_answer_fits(body, _route(60 * MiB))
    assert 16 * MiB < answer_bytes(2048, 1536, "base64") < 20 * MiB  # it did not fit the old 16 MiB


def test_an_answer_that_could_not_fit_is_refused_with_what_would() -> None:
    body = {"model": "e", "input": ["x"] * 2048, "encoding_format": "float"}
    with pytest.raises(GatewayError) as raised:
        check_answer_fits(body, _route(60 * MiB))
    error = raised.value
    assert error.status == 400 and error.code == "response_too_large" and error.param == "input"
    fits = int(error.message.split("send at most ")[1].split(" ")[0])
    check_answer_fits({**body, "input": ["x"] * fits}, _route(60 * MiB))  # the advice holds
    assert "base64" in error.message


def test_dimensions_asked_for_count_and_an_unknown_size_is_left_to_envoy() -> None:
    check_answer_fits({"input": ["x"] * 2048, "dimensions": 256}, _route(16 * MiB))
    with pytest.raises(GatewayError):
        check_answer_fits({"input": ["x"] * 2048, "dimensions": 3072, "encoding_format": "base64"}, _route(16 * MiB))
    check_answer_fits({"input": ["x"] * 2048}, _route(None))
    no_size_known = Endpoint(cluster="c", address="a:1", priority=0, model="hosted_vllm/bge", provider="hosted_vllm")
    check_answer_fits({"input": ["x"] * 2048}, _route(MiB, no_size_known))


def test_usage_is_read_from_the_tail_of_a_large_answer() -> None:
    answer = {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": "QUJD" * 2000} for i in range(50)],
              "model": "text-embedding-3-small", "usage": {"prompt_tokens": 321, "total_tokens": 321}}  # fmt: skip
    usage = tail_usage(orjson.dumps(answer))
    assert usage is not None and usage.prompt_tokens == 321
    assert tail_usage(b'{"object":"list","data":[]}') is None and tail_usage(b'{"usage": ') is None


def test_more_dimensions_than_the_model_has_are_refused_naming_its_maximum() -> None:
    with pytest.raises(GatewayError) as raised:
        check_answer_fits({"input": "a", "dimensions": 100_000_000}, _route(60 * MiB))
    assert raised.value.param == "dimensions" and "1536" in raised.value.message
    unknown = Endpoint(cluster="c", address="a:1", priority=0, model="hosted_vllm/bge", provider="hosted_vllm")
    with pytest.raises(GatewayError) as raised:
        check_answer_fits({"input": "a", "dimensions": 100_000_000}, _route(60 * MiB, unknown))
    assert raised.value.param == "dimensions" and raised.value.code == "invalid_request"
