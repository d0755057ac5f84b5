"""Answers to consent keywords and chat commands (``tasks``, ``done N``, ``help``)."""

from __future__ import annotations

from datetime import datetime

from pipeline.domain import ItemType
from pipeline.errors import InputError
from pipeline.jobs.queue import JobContext
from pipeline.jobs.services import extractor
from pipeline.notify import services
from pipeline.notify.contacts import Contact, set_opt_out
from pipeline.notify.keywords import Command, Keyword
from pipeline.notify.outbound import enqueue
from pipeline.notify.replies import task_list
from pipeline.roster import Roster
from pipeline.storage import ItemStatus, StoredItem

#: How many tasks ``tasks`` lists (a WhatsApp message should fit on a phone screen).
TASKS_SHOWN = 20


def answer(
    context: JobContext, contact: Contact, command: Command, *, message_id: int, at: datetime
) -> None:
    """Act on ``command`` (sent at ``at``) and queue the one reply to ``message_id``."""
    if command.keyword in (Keyword.STOP, Keyword.START):
        _consent(context, contact, command.keyword is Keyword.STOP, message_id, at)
        return
    templates = services.templates(context)
    if command.keyword is Keyword.HELP:
        body = templates.render("help")
    elif command.keyword is Keyword.TASKS:
        body = _tasks(context, contact)
    else:
        assert command.number is not None
        body = _done(context, contact, command.number)
    enqueue(context, contact, body=body, kind="reply", urgent=True, in_reply_to=message_id)


def _consent(
    context: JobContext, contact: Contact, stop: bool, message_id: int, at: datetime
) -> None:
    """Confirm only a real change (or the replay of this very keyword): a second STOP from an
    opted-out number gets silence, as the opt-out promised."""
    changes = contact.opted_out != stop or contact.consent_changed_at == at
    if not set_opt_out(context.store, contact.tenant, contact.address, stop, at) or not changes:
        return
    kind = "opted_out" if stop else "opted_in"
    body = services.templates(context).render(kind)
    enqueue(context, contact, body=body, kind=kind, urgent=True, in_reply_to=message_id)


def _tasks(context: JobContext, contact: Contact) -> str:
    templates = services.templates(context)
    if contact.person is None:
        return templates.render("unknown_sender")
    tasks = context.store.list_items(
        tenant=contact.tenant,
        type=ItemType.TASK,
        status=ItemStatus.OPEN.value,
        assignee=contact.person,
        limit=TASKS_SHOWN,
    )
    now = services.clock(context)()
    return task_list(templates, tasks, contact.zone(context.settings.timezone), now)


def _done(context: JobContext, contact: Contact, number: int) -> str:
    templates = services.templates(context)
    try:
        item = context.store.get_item(number, tenant=contact.tenant)
    except InputError:
        return templates.render("task_not_found", id=number)
    if not may_close(item, contact, extractor(context).roster):
        return templates.render("not_allowed", id=number)
    if item.status is not ItemStatus.DONE:
        item = context.store.set_status(item.id, ItemStatus.DONE.value, tenant=contact.tenant)
    return templates.render("task_done", id=item.id, title=item.title)


def may_close(item: StoredItem, contact: Contact, roster: Roster) -> bool:
    """Who may close a task from chat: whoever asked for it (it came from their chat), and
    team members for their own tasks, their reports' tasks and unassigned ones."""
    if item.chat == contact.address:
        return True
    if contact.person is None:
        return False
    if item.assignee is None or item.assignee == contact.person:
        return True
    assignee = roster.person(item.assignee)
    return assignee is not None and assignee.manager == contact.person
