"""Reminders: 24 hours before a task is due and an hour before an event starts.

Recovery runs every minute, so it doubles as the scheduler: it submits one ``reminders``
job per tenant with open items, and the job queues a reminder for each item entering its
window. ``enqueue`` keeps one reminder per item, however often the scan runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from pipeline.domain import ItemType, Priority
from pipeline.jobs.queue import JobContext, JobQueue, job
from pipeline.notify import services
from pipeline.notify.contacts import find_person, get_contact
from pipeline.notify.outbound import TemplateCall, enqueue
from pipeline.notify.replies import human_when
from pipeline.storage import ItemStatus, StoredItem
from pipeline.storage.tables import items

#: How long before its moment an item is reminded of, and with which template.
LEAD_TIMES = {ItemType.TASK: timedelta(hours=24), ItemType.EVENT: timedelta(hours=1)}
TEMPLATES = {ItemType.TASK: "reminder_task", ItemType.EVENT: "reminder_event"}


def recover_reminders(context: JobContext, queue: JobQueue) -> int:
    query = select(items.c.tenant).where(items.c.status == ItemStatus.OPEN.value).distinct()
    with context.store.transaction() as conn:
        tenants = list(conn.execute(query).scalars())
    for tenant in tenants:
        queue.submit("reminders", {}, tenant=tenant)
    return len(tenants)


@job("reminders", recover=recover_reminders)
def send_reminders(context: JobContext, payload: dict[str, Any], tenant: str) -> None:
    now = services.clock(context)()
    for item_type, lead in LEAD_TIMES.items():
        for item in context.store.list_items(
            tenant=tenant,
            type=item_type,
            status=ItemStatus.OPEN.value,
            due_from=now,
            due_to=now + lead,
            limit=10_000,
        ):
            _remind(context, item)


def _remind(context: JobContext, item: StoredItem) -> None:
    """Remind the assignee, or whoever asked when nobody is assigned."""
    tenant = item.tenant
    contact = (
        find_person(context.store, tenant, item.assignee)
        if item.assignee
        else get_contact(context.store, tenant, item.chat)
    )
    moment = item.due if item.type is ItemType.TASK else item.start
    if contact is None or moment is None:
        return
    when = human_when(
        moment, contact.zone(context.settings.timezone), services.clock(context)(), item.grain
    )
    template = TemplateCall(TEMPLATES[item.type], {"title": item.title, "when": when})
    enqueue(
        context,
        contact,
        body=services.templates(context).render(template.name, **template.values),
        kind="reminder",
        urgent=item.priority is Priority.URGENT,
        item_id=item.id,
        template=template,
    )
