"""Twilio webhooks over HTTP: signatures, storage, dedupe, queueing, status callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import insert, select

from pipeline.config import Settings
from pipeline.jobs.queue import JobQueue
from pipeline.storage import Store
from pipeline.storage.tables import messages, outbound_messages
from tests.service.conftest import ACME_TWILIO, Client, ClientFactory, queued_jobs, twilio_signature

pytestmark = pytest.mark.asyncio


def inbound(sid: str = "SM" + "a" * 32, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "whatsapp:+447700900102",
        "To": f"whatsapp:{ACME_TWILIO}",
        "Body": "Priya, please send the Acme contract by Friday",
        "NumMedia": "0",
        "ProfileName": "John",
        "WaId": "447700900102",
        "ApiVersion": "2010-04-01",
        "SomethingTwilioAddedLater": "x",
        **extra,
    }


async def post_signed(
    client: Client, params: dict[str, str], path: str = "/webhooks/twilio"
) -> ClientResponse:
    url = str(client.make_url(path))
    headers = {"X-Twilio-Signature": twilio_signature(url, params)}
    return await client.post(path, data=params, headers=headers)


def stored(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as conn:
        return [dict(row._mapping) for row in conn.execute(select(messages))]


async def test_message_is_stored_queued_and_acknowledged_with_empty_twiml(
    client: Client, store: Store, queue: JobQueue
) -> None:
    response = await post_signed(client, inbound())
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert (await response.text()).endswith("<Response/>")
    [row] = stored(store)
    assert row["tenant"] == "acme"  # To = our Twilio number of tenant acme
    assert row["source"] == "twilio"
    assert row["chat"] == "+447700900102"
    assert row["author"] == "John"
    assert row["message_key"] == "SM" + "a" * 32
    assert row["text"] == "Priya, please send the Acme contract by Friday"
    assert queued_jobs(queue) == [
        ("inbound", {"message_ids": [row["id"]], "channel": "twilio"}, "acme")
    ]


async def test_duplicate_delivery_is_stored_and_queued_once(
    client: Client, store: Store, queue: JobQueue
) -> None:
    for _ in range(3):
        assert (await post_signed(client, inbound())).status == 200
    assert len(stored(store)) == 1
    assert len(queued_jobs(queue)) == 1


async def test_media_location_reply_and_button_are_mapped(client: Client, store: Store) -> None:
    await post_signed(
        client,
        inbound(
            "SM1",
            Body="",
            NumMedia="2",
            MediaUrl0="https://api.twilio.com/m/ME1",
            MediaContentType0="image/jpeg",
            MediaUrl1="https://api.twilio.com/m/ME2",
            MediaContentType1="application/pdf",
            OriginalRepliedMessageSid="SM0",
        ),
    )
    await post_signed(client, inbound("SM2", Body="", ButtonText="Confirm", ButtonPayload="c2t:1"))
    await post_signed(
        client,
        inbound("SM3", Body="", Latitude="51.5", Longitude="-0.12", Label="Acme HQ"),
    )
    by_key = {row["message_key"]: row for row in stored(store)}
    media = by_key["SM1"]
    assert media["kind"] == "media"
    assert media["reply_to"] == "SM0"
    assert [a["media_type"] for a in media["attachments"]] == ["image/jpeg", "application/pdf"]
    assert by_key["SM2"]["text"] == "Confirm"
    assert by_key["SM3"]["attachments"] == [
        {"filename": "Acme HQ", "media_type": "application/geo", "uri": "geo:51.5,-0.12"}
    ]


async def test_unknown_number_goes_to_the_default_tenant(client: Client, store: Store) -> None:
    await post_signed(client, inbound(To="whatsapp:+15550000000"))
    assert stored(store)[0]["tenant"] == "default"


async def test_bad_or_missing_signature_is_refused_and_nothing_stored(
    client: Client, store: Store, queue: JobQueue
) -> None:
    params = inbound()
    missing = await client.post("/webhooks/twilio", data=params)
    forged = await client.post(
        "/webhooks/twilio", data=params, headers={"X-Twilio-Signature": "AAAA" * 7}
    )
    signed_then_altered = twilio_signature(str(client.make_url("/webhooks/twilio")), params)
    altered = await client.post(
        "/webhooks/twilio",
        data={**params, "Body": "wire money"},
        headers={"X-Twilio-Signature": signed_then_altered},
    )
    for response in (missing, forged, altered):
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "bad_signature"
    assert stored(store) == []
    assert queued_jobs(queue) == []


async def test_malformed_body_is_400_naming_the_field(
    client: Client, store: Store, queue: JobQueue
) -> None:
    no_sid = {k: v for k, v in inbound().items() if k != "MessageSid"}
    bad_media = inbound(NumMedia="lots")
    for params, field in ((no_sid, "MessageSid"), (bad_media, "NumMedia")):
        response = await post_signed(client, params)
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "invalid_request"
        assert field in error["message"]
    assert stored(store) == []
    assert queued_jobs(queue) == []


async def test_signature_over_the_public_url_behind_a_proxy(client: Client, store: Store) -> None:
    """Behind a TLS proxy Twilio signs https://public-host/…, not our loopback URL."""
    params = inbound()
    public = "https://hooks.example.com/webhooks/twilio"
    headers = {
        "X-Twilio-Signature": twilio_signature(public, params),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
    }
    assert (await client.post("/webhooks/twilio", data=params, headers=headers)).status == 200
    # The same signature without the forwarded headers describes another URL.
    del headers["X-Forwarded-Proto"], headers["X-Forwarded-Host"]
    assert (await client.post("/webhooks/twilio", data=params, headers=headers)).status == 403
    assert len(stored(store)) == 1


async def test_configured_public_url_wins(
    aiohttp_client: ClientFactory, service_settings: Settings, store: Store, queue: JobQueue
) -> None:
    from pipeline.service.app import create_app

    service = service_settings.service.model_copy(update={"public_url": "https://c2t.example/"})
    settings = service_settings.model_copy(update={"service": service})
    client = await aiohttp_client(create_app(settings, store=store, queue=queue))
    params = inbound()
    signature = twilio_signature("https://c2t.example/webhooks/twilio", params)
    response = await client.post(
        "/webhooks/twilio", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 200


async def test_status_callback_updates_the_outbound_message(client: Client, store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as conn:
        conn.execute(
            insert(outbound_messages).values(
                tenant="acme",
                channel="twilio",
                to_address="+447700900102",
                body="✓ Task",
                kind="confirmation",
                status="sent",
                provider_id="SMout1",
                created_at=now,
                updated_at=now,
            )
        )
    callback = {
        "MessageSid": "SMout1",
        "MessageStatus": "delivered",
        "To": "whatsapp:+447700900102",
    }
    response = await post_signed(client, callback, "/webhooks/twilio/status")
    assert response.status == 204
    unknown = await post_signed(
        client, {"MessageSid": "SMnope", "MessageStatus": "read"}, "/webhooks/twilio/status"
    )
    assert unknown.status == 204
    with store.transaction() as conn:
        assert conn.execute(select(outbound_messages.c.status)).scalar_one() == "delivered"
    assert (await client.post("/webhooks/twilio/status", data=callback)).status == 403
