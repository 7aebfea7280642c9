"""Sealed modal metadata: what comes back is what the bot sent, for the person it sent it to."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import modals, param_form
from bot.view_seal import MAX_METADATA, UnsealedView, ViewSeal
from devslack.blockkit import validate_view
from runtime.errors import HitlbotError
from runtime.models import HITLRequest, PendingRequest
from tests.conftest import make_procedure

TOKEN = "xoxb-1-2-sealtest"
SEAL = ViewSeal(TOKEN)


def form_view(**given: Any) -> dict[str, Any]:
    procedure = make_procedure(
        "return params",
        procedure_id="deploy",
        params={"env": {"required": True}, "token": {"input": "hidden", "default": "t"}},
    )
    return param_form.param_modal(procedure, given, channel="C0DEPLOYS", user="U0ALICE01")


def opened(view: dict[str, Any], user: str = "U0ALICE01", seal: ViewSeal = SEAL) -> Any:
    return seal.open(view["callback_id"], view["private_metadata"], user=user)


def retargeted(view: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    sealed = json.loads(view["private_metadata"])
    sealed["d"][key] = value
    return {**view, "private_metadata": json.dumps(sealed)}


def test_a_sealed_form_opens_to_what_the_builder_wrote() -> None:
    view = form_view(token="s3cr3t-value")
    sealed = SEAL.seal(view, user="U0ALICE01")
    assert validate_view(sealed) == []
    assert len(sealed["private_metadata"]) <= MAX_METADATA
    assert opened(sealed) == json.loads(view["private_metadata"])
    assert opened(sealed)["channel"] == "C0DEPLOYS"


@pytest.mark.parametrize(
    ("key", "value"),
    [("channel", "D0BOB0001"), ("procedure_id", "other"), ("given", {"token": "x"})],
)
def test_changed_metadata_does_not_verify(key: str, value: Any) -> None:
    sealed = SEAL.seal(form_view(), user="U0ALICE01")
    with pytest.raises(UnsealedView, match="does not verify"):
        opened(retargeted(sealed, key, value))


def test_a_modal_submitted_by_someone_else_is_refused() -> None:
    sealed = SEAL.seal(form_view(), user="U0ALICE01")
    with pytest.raises(UnsealedView, match="opened for U0ALICE01, not for U0BOB0001"):
        opened(sealed, user="U0BOB0001")


def test_metadata_sealed_for_another_modal_or_under_another_token_is_refused() -> None:
    request = modals.input_modal(_pending())
    sealed = SEAL.seal(request, user="U0BOB0001")
    assert opened(sealed, user="U0BOB0001") == {"request_id": "deploy:1a2b3c4d:pos0"}
    with pytest.raises(UnsealedView, match="does not verify"):
        SEAL.open("run_params", sealed["private_metadata"], user="U0BOB0001")
    with pytest.raises(UnsealedView, match="does not verify"):
        opened(sealed, user="U0BOB0001", seal=ViewSeal("xoxb-another-install"))


@pytest.mark.parametrize(
    "metadata",
    ["", "{nope", "[]", '{"request_id": "deploy:1a2b3c4d:pos0"}', '{"d": {}, "u": 1, "s": ""}'],
)
def test_metadata_the_bot_did_not_seal_is_refused(metadata: str) -> None:
    with pytest.raises(UnsealedView):
        SEAL.open("hitl_input", metadata, user="U0BOB0001")


def test_read_only_views_are_left_as_they_are() -> None:
    view = modals.full_text_modal("Notes", "text")
    assert SEAL.seal(view, user="U0BOB0001") is view


def test_metadata_too_large_once_sealed_is_an_error_not_a_broken_modal() -> None:
    view = {"callback_id": "x", "private_metadata": json.dumps({"a": "x" * 2950})}
    with pytest.raises(HitlbotError, match="too much"):
        SEAL.seal(view, user="U0BOB0001")
    # The param form keeps its own metadata small enough to be sealed.
    with pytest.raises(param_form.ParamFormError, match="too long to carry"):
        form_view(token="x" * (MAX_METADATA - 150))


def test_the_key_never_shows() -> None:
    assert TOKEN not in repr(SEAL) and TOKEN not in str(vars(SEAL))


def _pending() -> PendingRequest:
    return PendingRequest(
        request_id="deploy:1a2b3c4d:pos0",
        run_id="1a2b3c4d-0000",
        procedure_id="deploy",
        position=0,
        request=HITLRequest(request_type="input", message="Ticket?"),
    )
