from __future__ import annotations

import pytest

from bot.core.actions import MAX_PAYLOAD_CHARS, Action, ActionCodec, InvalidPayload, PayloadError


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


CHAT = "feishu:oc_team"


def test_a_payload_round_trips_in_the_chat_it_was_issued_for() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    action = Action("run", {"tool": "pod_logs", "args": {"namespace": "dev", "pod": "cart-v2"}})
    assert codec.decode(codec.encode(action, CHAT), CHAT) == action


def test_an_altered_payload_is_refused_as_forged() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    payload = codec.encode(Action("run", {"tool": "list_pods"}), CHAT)
    body, mac = payload.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    with pytest.raises(InvalidPayload) as err:
        codec.decode(tampered, CHAT)
    assert err.value.reason is PayloadError.FORGED  # the signature is checked before the body is even parsed


def test_a_well_formed_body_with_other_arguments_under_the_old_signature_is_refused_as_forged() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    _, mac = codec.encode(Action("run", {"replicas": 1}), CHAT).split(".")
    body, _ = codec.encode(Action("run", {"replicas": 100}), CHAT).split(".")
    with pytest.raises(InvalidPayload) as err:
        codec.decode(f"{body}.{mac}", CHAT)
    assert err.value.reason is PayloadError.FORGED


def test_a_payload_signed_with_another_secret_is_refused_as_forged() -> None:
    payload = ActionCodec("other", ttl_seconds=60).encode(Action("run"), CHAT)
    with pytest.raises(InvalidPayload) as err:
        ActionCodec("s3cret", ttl_seconds=60).decode(payload, CHAT)
    assert err.value.reason is PayloadError.FORGED


def test_a_payload_from_another_chat_is_refused_as_foreign() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    payload = codec.encode(Action("run"), CHAT)
    with pytest.raises(InvalidPayload) as err:
        codec.decode(payload, "feishu:oc_other")
    assert err.value.reason is PayloadError.FOREIGN


def test_a_payload_past_its_expiry_is_refused_as_expired() -> None:
    clock = Clock()
    codec = ActionCodec("s3cret", ttl_seconds=60, clock=clock)
    payload = codec.encode(Action("run"), CHAT)
    clock.now += 59
    assert codec.decode(payload, CHAT) == Action("run")  # still valid just before its expiry
    clock.now += 2
    with pytest.raises(InvalidPayload) as err:
        codec.decode(payload, CHAT)
    assert err.value.reason is PayloadError.EXPIRED


@pytest.mark.parametrize("garbage", ["", "no-dot", "a.b.c", "!!!.???", "x" * (MAX_PAYLOAD_CHARS + 1)])
def test_garbage_payloads_are_refused_without_raising_anything_else(garbage: str) -> None:
    with pytest.raises(InvalidPayload):
        ActionCodec("s3cret", ttl_seconds=60).decode(garbage, CHAT)


def test_an_oversized_action_cannot_be_encoded() -> None:
    with pytest.raises(InvalidPayload) as err:
        ActionCodec("s3cret", ttl_seconds=60).encode(Action("run", {"blob": "x" * 5000}), CHAT)
    assert err.value.reason is PayloadError.TOO_LONG


@pytest.mark.parametrize(
    "payload",
    [
        "abc.签名",  # a non-ASCII MAC: compare_digest would raise TypeError
        "abc\ud800.def",  # a lone surrogate in the body: encode() would raise UnicodeEncodeError
        "abc.d\udcffef",
        "\ud800",
    ],
)
def test_odd_characters_in_a_payload_are_refused_as_malformed_not_raised(payload: str) -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    with pytest.raises(InvalidPayload) as err:
        codec.decode(payload, CHAT)
    assert err.value.reason is PayloadError.MALFORMED


def test_an_action_carrying_a_lone_surrogate_cannot_be_signed_and_says_so() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    with pytest.raises(InvalidPayload) as err:
        codec.encode(Action("pick", {"v": "pod-\ud800"}), CHAT)
    assert err.value.reason is PayloadError.MALFORMED


def test_a_chat_id_with_a_lone_surrogate_still_scopes_a_payload_to_that_chat() -> None:
    codec = ActionCodec("s3cret", ttl_seconds=60)
    odd = "feishu:oc_\udcff"
    assert codec.decode(codec.encode(Action("run"), odd), odd) == Action("run")
    with pytest.raises(InvalidPayload):
        codec.decode(codec.encode(Action("run"), odd), CHAT)
