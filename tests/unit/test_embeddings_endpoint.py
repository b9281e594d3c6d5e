"""`POST /v1/embeddings`: the schema checks a client gets a clear 400 for."""

from __future__ import annotations

from typing import Any

import pytest

from extproc.endpoints.embeddings import Embeddings
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
