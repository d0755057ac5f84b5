"""Meta webhooks over HTTP: verification, raw-body signatures, every message type, statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import insert, select

from pipeline.jobs.queue import JobQueue
from pipeline.storage import Store
from pipeline.storage.tables import messages, outbound_messages
from tests.service.conftest import (
    ACME_PHONE_ID,
    VERIFY_TOKEN,
    Client,
    dumps,
    meta_signature,
    queued_jobs,
)

pytestmark = pytest.mark.asyncio

SENT = 1_795_946_400  # 2026-11-29 05:20 UTC


def text(wamid: str, body: str, sender: str = "447700900103", **extra: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(SENT),
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def envelope(*values: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "WABA", "changes": [{"field": "messages", "value": value}]} for value in values
        ],
    }


def value(
    messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
    statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
    phone_id: str = ACME_PHONE_ID,
) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": phone_id},
        "contacts": [{"profile": {"name": "Priya"}, "wa_id": "447700900103"}],
        "messages": list(messages),
        "statuses": list(statuses),
    }


async def post(client: Client, body: bytes, signature: str | None = None) -> ClientResponse:
    headers = {"Content-Type": "application/json"}
    headers["X-Hub-Signature-256"] = signature if signature is not None else meta_signature(body)
    return await client.post("/webhooks/meta", data=body, headers=headers)


def stored(store: Store) -> dict[str, dict[str, Any]]:
    with store.transaction() as conn:
        rows = conn.execute(select(messages).order_by(messages.c.id))
        return {row.message_key: dict(row._mapping) for row in rows}


async def test_verification_echoes_the_challenge_only_with_our_token(client: Client) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    ok = await client.get("/webhooks/meta", params=query)
    assert ok.status == 200
    assert ok.content_type == "text/plain"
    assert await ok.text() == "1158201444"
    wrong = await client.get("/webhooks/meta", params={**query, "hub.verify_token": "guess"})
    assert wrong.status == 403
    assert (await client.get("/webhooks/meta")).status == 403


async def test_text_message_is_stored_with_its_send_time_and_queued(
    client: Client, store: Store, queue: JobQueue
) -> None:
    body = dumps(envelope(value([text("wamid.A", "Send the NDA to Globex by Friday")])))
    response = await post(client, body)
    assert response.status == 200
    assert (await response.json())["new"] == 1
    row = stored(store)["wamid.A"]
    assert (row["tenant"], row["source"], row["chat"], row["author"]) == (
        "acme",
        "meta",
        "+447700900103",
        "Priya",
    )
    assert row["sent_at"] == datetime.fromtimestamp(SENT, UTC)
    assert row["sent_tz"] == "Europe/London"
    assert queued_jobs(queue) == [
        ("inbound", {"message_ids": [row["id"]], "channel": "meta"}, "acme")
    ]


async def test_non_ascii_body_is_verified_over_the_raw_bytes(client: Client, store: Store) -> None:
    """Meta escapes non-ASCII as \\uXXXX: re-serialising the JSON would change the bytes."""
    raw = dumps(envelope(value([text("wamid.U", "Über-Termin morgen 10 Uhr ✓")])))
    assert b"\\u" in raw
    assert (await post(client, raw)).status == 200
    assert stored(store)["wamid.U"]["text"] == "Über-Termin morgen 10 Uhr ✓"


async def test_several_entries_and_message_types_in_one_delivery(
    client: Client, store: Store, queue: JobQueue
) -> None:
    base = {"from": "447700900103", "timestamp": str(SENT)}
    kinds = [
        text("wamid.T", "Call Acme tomorrow", context={"from": "15550001234", "id": "wamid.OUT"}),
        {
            **base,
            "id": "wamid.B",
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "c2t:confirm:1", "title": "Confirm"},
            },
        },
        {
            **base,
            "id": "wamid.L",
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "p1", "title": "High", "description": "x"},
            },
        },
        {
            **base,
            "id": "wamid.Q",
            "type": "button",
            "button": {"payload": "stop", "text": "Stop promotions"},
        },
        {
            **base,
            "id": "wamid.I",
            "type": "image",
            "image": {
                "id": "MEDIA1",
                "mime_type": "image/jpeg",
                "sha256": "x",
                "caption": "whiteboard",
            },
        },
        {
            **base,
            "id": "wamid.D",
            "type": "document",
            "document": {
                "id": "MEDIA2",
                "filename": "contract.pdf",
                "mime_type": "application/pdf",
                "sha256": "y",
            },
        },
        {
            **base,
            "id": "wamid.G",
            "type": "location",
            "location": {"latitude": 51.5, "longitude": -0.12, "name": "Acme HQ"},
        },
        {
            **base,
            "id": "wamid.R",
            "type": "reaction",
            "reaction": {"message_id": "wamid.OUT", "emoji": "👍"},
        },
        {**base, "id": "wamid.X", "type": "unsupported", "errors": [{"code": 131051}]},
    ]
    other_tenant = value([text("wamid.O", "hello", sender="15555550104")], phone_id="UNKNOWN")
    response = await post(client, dumps(envelope(value(kinds[:5]), value(kinds[5:]), other_tenant)))
    assert response.status == 200
    assert (await response.json())["new"] == 9  # everything but the unsupported message
    rows = stored(store)
    assert "wamid.X" not in rows
    assert rows["wamid.T"]["reply_to"] == "wamid.OUT"
    assert rows["wamid.B"]["text"] == "Confirm"
    assert rows["wamid.L"]["text"] == "High"
    assert rows["wamid.Q"]["text"] == "Stop promotions"
    assert (rows["wamid.I"]["text"], rows["wamid.I"]["kind"]) == ("whiteboard", "text")
    assert rows["wamid.D"]["kind"] == "media"
    assert rows["wamid.D"]["attachments"][0]["filename"] == "contract.pdf"
    assert rows["wamid.D"]["attachments"][0]["uri"].endswith("/MEDIA2")
    assert rows["wamid.G"]["attachments"][0]["uri"] == "geo:51.5,-0.12"
    assert (rows["wamid.R"]["kind"], rows["wamid.R"]["text"], rows["wamid.R"]["reply_to"]) == (
        "system",
        "👍",
        "wamid.OUT",
    )
    assert rows["wamid.O"]["tenant"] == "default"
    jobs = queued_jobs(queue)
    assert sorted(tenant for _, _, tenant in jobs) == ["acme", "default"]
    assert sum(len(payload["message_ids"]) for _, payload, _ in jobs) == 9


async def test_redelivery_is_stored_and_queued_once(
    client: Client, store: Store, queue: JobQueue
) -> None:
    body = dumps(envelope(value([text("wamid.A", "one"), text("wamid.B", "two")])))
    assert (await (await post(client, body)).json())["new"] == 2
    assert (await (await post(client, body)).json())["new"] == 0
    overlapping = dumps(envelope(value([text("wamid.B", "two"), text("wamid.C", "three")])))
    assert (await (await post(client, overlapping)).json())["new"] == 1
    rows = stored(store)
    assert len(rows) == 3
    provider_ids = {row["id"]: key for key, row in rows.items()}
    queued = [payload["message_ids"] for _, payload, _ in queued_jobs(queue)]
    assert [[provider_ids[i] for i in ids] for ids in queued] == [
        ["wamid.A", "wamid.B"],
        ["wamid.C"],
    ]


async def test_statuses_update_outbound_messages(client: Client, store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as conn:
        conn.execute(
            insert(outbound_messages),
            [
                {
                    "tenant": "acme",
                    "channel": "meta",
                    "to_address": "+447700900103",
                    "body": "b",
                    "kind": "confirmation",
                    "status": "sent",
                    "provider_id": f"wamid.OUT{n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in (1, 2)
            ],
        )
    statuses: list[dict[str, Any]] = [
        {
            "id": "wamid.OUT1",
            "status": "read",
            "timestamp": str(SENT),
            "recipient_id": "447700900103",
        },
        {
            "id": "wamid.OUT2",
            "status": "failed",
            "timestamp": str(SENT),
            "recipient_id": "447700900103",
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        },
        {"id": "wamid.UNKNOWN", "status": "delivered", "timestamp": str(SENT)},
    ]
    body = dumps(envelope(value([text("wamid.IN", "thanks")], statuses=statuses)))
    response = await post(client, body)
    assert await response.json() == {"messages": 1, "new": 1, "statuses": 3, "statuses_known": 2}
    with store.transaction() as conn:
        rows = conn.execute(select(outbound_messages).order_by(outbound_messages.c.id)).all()
    assert [r.status for r in rows] == ["read", "failed"]
    assert (rows[1].error_code, rows[1].error_message) == ("131047", "Re-engagement message")


async def test_bad_or_missing_signature_is_refused_and_nothing_stored(
    client: Client, store: Store, queue: JobQueue
) -> None:
    body = dumps(envelope(value([text("wamid.A", "hi")])))
    for signature in (
        "",
        meta_signature(body, "wrong secret"),
        "sha256=00",
        meta_signature(body + b" "),
    ):
        response = await post(client, body, signature)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "bad_signature"
    assert stored(store) == {}
    assert queued_jobs(queue) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not JSON"),
        (dumps({"object": "page", "entry": []}), "whatsapp_business_account"),
        (dumps({"object": "whatsapp_business_account"}), "entry"),
        (dumps(envelope(value([{"from": "1", "id": "wamid.Z", "type": "text"}]))), "timestamp"),
        (
            dumps(
                envelope(
                    value(
                        [
                            text("wamid.OK", "fine"),
                            {"id": "wamid.Y", "timestamp": "1", "type": "text"},
                        ]
                    )
                )
            ),
            "from",
        ),
        (
            dumps(
                envelope(
                    value(
                        [
                            {
                                "from": "1",
                                "id": "wamid.G",
                                "timestamp": "1",
                                "type": "location",
                                "location": {},
                            }
                        ]
                    )
                )
            ),
            "latitude",
        ),
    ],
)
async def test_malformed_delivery_is_400_naming_the_problem_and_stores_nothing(
    client: Client, store: Store, queue: JobQueue, body: bytes, problem: str
) -> None:
    response = await post(client, body)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert problem in error["message"]
    assert stored(store) == {}
    assert queued_jobs(queue) == []
