"""Notifications to customers: SMS to the reserved phone through an outbox, and the inbox."""
