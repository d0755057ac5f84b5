"""Talking back on WhatsApp: contacts and consent, inbound processing, replies and reminders.

Flow: the service stores a webhook message and submits an ``inbound`` job
(:mod:`.inbound`); the job extracts items and queues replies as ``outbound_messages`` rows;
the ``send`` job (:mod:`.outbound`) delivers each row through a :class:`~.senders.Sender`,
honouring consent, quiet hours and rate limits; status callbacks update the rows.
"""
