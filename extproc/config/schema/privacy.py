"""Privacy settings: what a provider may see, and what a caller may see (extproc/redaction reads them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from extproc.config.schema.base import NonEmpty, Section, YamlOff

Entity = Literal["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "SECRET"]
ALL_ENTITIES: list[Entity] = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "SECRET"]
RequestMode = Literal["off", "mask", "block", "restore"]
ResponseMode = Literal["off", "mask", "block"]
# As much text as Envoy takes in a body (its buffer filter's 4 MiB).
MAX_SCAN_BYTES = 4 * 1024 * 1024
# Well under the ext_proc filter's message_timeout (10 s), past which Envoy gives up first.
MAX_SCAN_SECONDS = 5.0


class RequestPrivacy(Section):
    """Before any provider call. On a route, the scan budget (the last four) is inherited unless set."""

    mode: Annotated[RequestMode, YamlOff] = Field(
        "mask",
        description="`mask`: each value becomes a typed placeholder (`<EMAIL_ADDRESS_1>`). `block`: 400 "
        "`sensitive_data`, naming the entity types. `restore`: mask, then put the caller's values back into the "
        "completion. `off`: sent as it is.",
    )
    entities: list[Entity] = Field(ALL_ENTITIES, description="What is looked for.")
    max_scan_bytes: int = Field(
        MAX_SCAN_BYTES,
        gt=0,
        description="The most text (UTF-8 bytes) one request may hold for detection; lower it for models with a "
        "smaller context.",
    )
    max_scan_seconds: float = Field(
        MAX_SCAN_SECONDS,
        gt=0,
        description="The most time one request's detection may take, waiting for a worker included; keep it well "
        "under the ext_proc filter's `message_timeout` (10 s).",
    )
    over_budget: Literal["refuse", "truncate"] = Field(
        "refuse",
        description="Beyond either limit: `refuse` (413 `request_too_large_to_scan`) or `truncate` (mask what was "
        "read, cut the rest).",
    )
    unscannable: Literal["allow", "refuse"] = Field(
        "allow",
        description="Images, audio, files and token ids cannot be read: `allow` sends them, `refuse` answers 400 "
        "`unscannable_content`.",
    )


class ResponsePrivacy(Section):
    """On every chat completion, buffered and streamed."""

    mode: Annotated[ResponseMode, YamlOff] = Field(
        "mask",
        description="`mask` (`<CREDIT_CARD>`), `block` (the answer stops before the first finding, "
        "`finish_reason: content_filter`), or `off`.",
    )
    entities: list[Entity] = Field(ALL_ENTITIES, description="What the output policy looks for.")
    deny_list: list[NonEmpty] = Field([], description="Words or phrases (whole words, any case) masked or blocked like an entity.")


class Privacy(Section):
    """What a provider may see and what a caller may see. A route overrides `request`, `response` and `log_text` each."""

    request: RequestPrivacy | None = Field(None, description="The request policy; unset: nothing is masked.")
    response: ResponsePrivacy | None = Field(None, description="The output policy; unset: the answer is not checked.")
    log_text: bool = Field(
        False,
        description="`true` puts the prompt as the provider got it and the completion as the policy let it out in "
        "the log line, 8 KB each at most.",
    )
