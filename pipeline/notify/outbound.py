"""Outbound messages: queue them, send them once, and follow their delivery status.

A reply is a row of ``outbound_messages`` first and a ``send`` job second, so nothing is lost
when a worker dies: recovery re-submits rows still ``pending``/``held`` once due, and rows
stuck in ``sending`` past a lease. A worker *claims* a row (``pending``/``held`` ->
``sending`` in one conditional UPDATE) before talking to the provider, so two workers never
send the same row; a worker killed between the provider's answer and our UPDATE is the one
case that sends twice (after the lease) — at-least-once, as with any provider without
idempotency keys.

Before claiming, the job applies the rules in order: consent (opted-out contacts get
nothing but the STOP/START confirmations: status ``suppressed``), quiet hours (non-urgent
rows are ``held`` until the window ends), and the pace (rescheduled, never slept on). Once
the contact's 24-hour window has closed, WhatsApp takes only approved templates: a row that
knows its template (``TemplateCall``) goes as the one configured for it, any other fails
with ``window_closed`` without a call to the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select, update

from pipeline.config import ApprovedTemplate
from pipeline.jobs.queue import JobContext, JobQueue, backoff_seconds, job
from pipeline.notify import services
from pipeline.notify.contacts import Contact, get_contact
from pipeline.notify.quiet import contact_quiet_until
from pipeline.notify.senders import SendLater, SendRejected
from pipeline.storage import Store
from pipeline.storage import engine as db
from pipeline.storage.tables import outbound_messages as outbound

log = logging.getLogger(__name__)

#: The replies to STOP and START: the only messages an opted-out number may get.
CONSENT_KINDS = frozenset({"opted_out", "opted_in"})
#: A row in ``sending`` this long belongs to a dead worker.
SENDING_LEASE = timedelta(minutes=5)
#: WhatsApp's customer-service window: free-form text only this long after the contact's
#: last message, approved templates after it.
SERVICE_WINDOW = timedelta(hours=24)
#: "Outside the window": Meta's code (in its answer or a status), Twilio's (a status only).
WINDOW_CLOSED = frozenset({"131047", "63016"})
#: Delivery progress in order; a status callback may only move a row forward.
PROGRESS = ("pending", "held", "sending", "queued", "sent", "delivered", "read")
FAILURES = ("failed", "undelivered")
#: Provider statuses (Twilio and Meta) in our words.
PROVIDER_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "undelivered",
    "canceled": "failed",
}
_WAITING = ("pending", "held")


@dataclass(frozen=True, slots=True)
class Outbound:
    id: int
    tenant: str
    channel: str
    to_address: str
    body: str
    kind: str
    urgent: bool
    item_id: int | None
    in_reply_to: int | None
    status: str
    send_after: datetime | None
    provider_id: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    template: dict[str, Any] | None
    sent_template: str | None
    window_closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TemplateCall:
    """The template a body was rendered from and its values: enough to send the approved
    WhatsApp template that stands in for it outside the 24-hour window."""

    name: str
    values: dict[str, str]


def enqueue(
    context: JobContext,
    contact: Contact,
    *,
    body: str,
    kind: str,
    urgent: bool = False,
    item_id: int | None = None,
    in_reply_to: int | None = None,
    template: TemplateCall | None = None,
) -> int | None:
    """Queue a message to ``contact`` and submit its send job.

    At most one row per ``(in_reply_to, kind)`` — or ``(item_id, kind)`` for messages not
    answering one (reminders) — so replayed jobs do not reply twice; returns ``None`` then.
    A message an opted-out contact must not get is stored as ``suppressed`` and not sent.
    """
    now = services.clock(context)()
    values: dict[str, Any] = {
        "tenant": contact.tenant,
        "channel": contact.channel,
        "to_address": contact.address,
        "body": body,
        "kind": kind,
        "urgent": urgent,
        "item_id": item_id,
        "in_reply_to": in_reply_to,
        "template": {"name": template.name, "values": template.values} if template else None,
        "status": "suppressed" if _suppressed(contact, kind) else "pending",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    with context.store.transaction() as conn:
        # The partial unique indexes on (in_reply_to, kind) and (item_id, kind) decide, so
        # two workers replaying one job cannot both insert (a NOT EXISTS read could race).
        statement = db.insert(conn, outbound).values(values).on_conflict_do_nothing()
        inserted = conn.execute(statement.returning(outbound.c.id)).scalar_one_or_none()
    if inserted is not None and values["status"] == "pending":
        _submit(context, inserted, contact.tenant)
    return inserted


def get_outbound(store: Store, outbound_id: int) -> Outbound | None:
    with store.transaction() as conn:
        row = conn.execute(select(outbound).where(outbound.c.id == outbound_id)).one_or_none()
    return _to_outbound(row) if row else None


def list_outbound(store: Store, tenant: str, *, to_address: str | None = None) -> list[Outbound]:
    query = select(outbound).where(outbound.c.tenant == tenant).order_by(outbound.c.id)
    if to_address is not None:
        query = query.where(outbound.c.to_address == to_address)
    with store.transaction() as conn:
        return [_to_outbound(row) for row in conn.execute(query)]


def record_status(
    store: Store,
    *,
    channel: str,
    provider_id: str,
    status: str,
    at: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Apply a provider's status callback; False when no row has ``provider_id``.

    Callbacks arrive out of order, so a row only moves forward (read never falls back to
    delivered) and stale or repeated callbacks change nothing; ``failed``/``undelivered``
    end a row that was not delivered yet — except a text WhatsApp failed for a closed
    window (Twilio only says so here, as 63016): a row that knows its template goes back to
    ``pending`` to be sent as that template (recovery picks it up within a minute).
    """
    ours = PROVIDER_STATUS.get(status)
    if ours is None:
        log.warning("ignoring unknown %s status %r for %s", channel, status, provider_id)
        return False
    if ours in FAILURES:
        earlier = PROGRESS[: PROGRESS.index("delivered")]
        values = {"status": ours, "error_code": error_code, "error_message": error_message}
        if error_code in WINDOW_CLOSED and _retry_as_template(store, channel, provider_id, at):
            return True
    else:
        earlier = PROGRESS[: PROGRESS.index(ours)]
        values = {"status": ours}
    with store.transaction() as conn:
        changed = conn.execute(
            update(outbound)
            .where(
                outbound.c.channel == channel,
                outbound.c.provider_id == provider_id,
                outbound.c.status.in_(earlier),
            )
            .values(**values, updated_at=at)
        )
        if changed.rowcount > 0:
            return True
        known = select(outbound.c.id).where(
            outbound.c.channel == channel, outbound.c.provider_id == provider_id
        )
        return conn.execute(known).first() is not None


def _retry_as_template(store: Store, channel: str, provider_id: str, at: datetime) -> bool:
    """Put a text failed late for a closed window back in line, once, as its template."""
    with store.transaction() as conn:
        row = conn.execute(
            select(outbound).where(
                outbound.c.channel == channel, outbound.c.provider_id == provider_id
            )
        ).first()
        if row is None or not row.template or row.sent_template or row.window_closed_at:
            return False
        reopened = conn.execute(
            update(outbound)
            .where(outbound.c.id == row.id, outbound.c.status.in_(("queued", "sent")))
            .values(
                status="pending",
                provider_id=None,
                send_after=None,
                window_closed_at=at,
                updated_at=at,
            )
        )
    return reopened.rowcount > 0


def recover_sends(context: JobContext, queue: JobQueue) -> int:
    """Re-submit due ``pending``/``held`` rows, after freeing rows whose lease ran out."""
    now = services.clock(context)()
    with context.store.transaction() as conn:
        conn.execute(
            update(outbound)
            .where(outbound.c.status == "sending", outbound.c.updated_at < now - SENDING_LEASE)
            .values(status="pending", updated_at=now)
        )
        due = conn.execute(
            select(outbound.c.id, outbound.c.tenant)
            .where(outbound.c.status.in_(_WAITING), _due(now))
            .order_by(outbound.c.id)
        ).all()
    fresh = services.resubmissions(context, "send").fresh((row.id, row.tenant) for row in due)
    for outbound_id, tenant in fresh:
        queue.submit("send", {"outbound_id": outbound_id}, tenant=tenant)
    return len(fresh)


@job("send", recover=recover_sends)
def send(context: JobContext, payload: dict[str, Any], tenant: str) -> None:
    """Deliver one outbound row, or say why not yet (held, rescheduled) or never."""
    row = get_outbound(context.store, int(payload["outbound_id"]))
    if row is None or row.status not in _WAITING:
        return  # sent, failed or suppressed meanwhile: a duplicate job
    now = services.clock(context)()
    if row.send_after is not None and row.send_after > now:
        _submit(context, row.id, row.tenant, delay=row.send_after - now)
        return
    contact = get_contact(context.store, row.tenant, row.to_address)
    if contact is None or _suppressed(contact, row.kind):
        _move(context.store, row.id, status="suppressed", updated_at=now)
        return
    if not row.urgent:
        until = contact_quiet_until(contact, context.settings, now)
        if until is not None:
            _defer(context, row, until, now, status="held")
            return
    wait = services.rate_limiter(context).reserve(row.channel, row.to_address)
    if wait > 0:
        _defer(context, row, now + timedelta(seconds=wait), now)
        return
    if not _claim(context.store, row.id, now):
        return
    _deliver(context, row, contact, now)


def _deliver(context: JobContext, row: Outbound, contact: Contact, now: datetime) -> None:
    attempts = row.attempts + 1
    try:
        provider_id, sent_template = _send(context, row, contact, now)
    except SendRejected as exc:
        _fail(context.store, row.id, exc.code, str(exc), now)
    except SendLater as exc:
        queue_settings = context.settings.queue
        if attempts >= queue_settings.max_attempts:
            _fail(context.store, row.id, exc.code, f"gave up after {attempts} tries: {exc}", now)
            return
        delay = backoff_seconds(attempts, queue_settings, exc.retry_after)
        log.warning("outbound %d: %s; retry in %.1f s", row.id, exc, delay)
        _move(
            context.store,
            row.id,
            from_status="sending",
            status="pending",
            send_after=now + timedelta(seconds=delay),
            error_code=exc.code,
            error_message=str(exc),
            updated_at=now,
        )
        _submit(context, row.id, row.tenant, delay=timedelta(seconds=delay))
    else:
        _move(
            context.store,
            row.id,
            from_status="sending",
            status="queued",
            provider_id=provider_id,
            sent_template=sent_template,
            error_code=None,
            error_message=None,
            updated_at=now,
        )


def _send(
    context: JobContext, row: Outbound, contact: Contact, now: datetime
) -> tuple[str, str | None]:
    """Send the row as text inside the contact's 24-hour window, else as its approved
    template; returns the provider's id and the template sent, if one was."""
    sender = services.sender(context, row.channel)
    approved = _approved(context, row)
    window_open = (
        row.window_closed_at is None
        and contact.last_inbound_at is not None
        and now - contact.last_inbound_at < SERVICE_WINDOW
    )
    if window_open:
        try:
            return sender.send(row.to_address, row.body), None
        except SendRejected as exc:
            if exc.code not in WINDOW_CLOSED or approved is None:
                raise  # WhatsApp's clock may close the window before ours: then fall back
    if approved is None:
        name = (row.template or {}).get("name") or row.kind
        last = contact.last_inbound_at.isoformat() if contact.last_inbound_at else "never"
        raise SendRejected(
            f"outside WhatsApp's 24-hour window (last message from the contact: {last}) and "
            f"no approved template for {name!r} on {row.channel} "
            "(service.approved_templates)",
            code="window_closed",
        )
    name, template = approved
    values = (row.template or {}).get("values", {})
    missing = [v for v in template.variables if v not in values]
    if missing:
        raise SendRejected(
            f"approved template {name!r} needs {', '.join(missing)}, which this message lacks",
            code="template_values",
        )
    filled = [str(values[v]) for v in template.variables]
    return sender.send_template(row.to_address, template, filled), name


def _approved(context: JobContext, row: Outbound) -> tuple[str, ApprovedTemplate] | None:
    """The approved template standing in for the row's, if one is configured for its channel."""
    name = (row.template or {}).get("name")
    template = context.settings.service.approved_templates.get(name) if name else None
    if name is None or template is None or not template.on(row.channel):
        return None
    return name, template


def _claim(store: Store, outbound_id: int, now: datetime) -> bool:
    with store.transaction() as conn:
        claimed = conn.execute(
            update(outbound)
            .where(outbound.c.id == outbound_id, outbound.c.status.in_(_WAITING), _due(now))
            .values(status="sending", attempts=outbound.c.attempts + 1, updated_at=now)
        )
    return claimed.rowcount > 0


def _defer(
    context: JobContext, row: Outbound, until: datetime, now: datetime, *, status: str = "pending"
) -> None:
    """Not now: keep the row waiting until ``until`` and schedule its job for then."""
    if _move(context.store, row.id, status=status, send_after=until, updated_at=now):
        _submit(context, row.id, row.tenant, delay=until - now)


def _fail(store: Store, outbound_id: int, code: str | None, message: str, now: datetime) -> None:
    log.error("outbound %d failed (%s): %s", outbound_id, code, message)
    _move(
        store,
        outbound_id,
        from_status="sending",
        status="failed",
        error_code=code,
        error_message=message,
        updated_at=now,
    )


def _move(store: Store, outbound_id: int, *, from_status: str | None = None, **values: Any) -> bool:
    """Update a row still in ``from_status`` (default: still waiting); False if it moved on."""
    allowed = (from_status,) if from_status else _WAITING
    with store.transaction() as conn:
        changed = conn.execute(
            update(outbound)
            .where(outbound.c.id == outbound_id, outbound.c.status.in_(allowed))
            .values(**values)
        )
    return changed.rowcount > 0


def _submit(
    context: JobContext, outbound_id: int, tenant: str, *, delay: timedelta = timedelta(0)
) -> None:
    services.job_queue(context).submit(
        "send", {"outbound_id": outbound_id}, tenant=tenant, delay=delay.total_seconds()
    )


def _suppressed(contact: Contact, kind: str) -> bool:
    return contact.opted_out and kind not in CONSENT_KINDS


def _due(now: datetime) -> Any:
    return or_(outbound.c.send_after.is_(None), outbound.c.send_after <= now)


def _to_outbound(row: Row[Any]) -> Outbound:
    return Outbound(**{name: getattr(row, name) for name in Outbound.__dataclass_fields__})
