"""What each notification says, in the reader's language, and the risk tip that goes with it.

Parameters are plain values: ``amount`` (minor units) with ``currency`` is formatted for the
locale; a parameter whose name ends in ``_msgid`` is an English msgid, translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ebank.common.i18n import N_, gettext
from ebank.common.money import format_amount

TIP_NEVER_ASK_CODE = N_(
    "The bank never asks for your verification code. Never tell it to anyone, not even bank staff."
)
TIP_NOT_YOU = N_("If this was not you, call the bank at once.")
TIP_REFUNDS = N_("Refunds never require you to pay or to give a code.")
TIP_SAFE_ACCOUNT = N_("The bank never asks you to move money to a 'safe account'.")

# What changed, for "security_change" notifications.
CHANGE_DEVICE_REMOVED = N_("a device was removed")
CHANGE_TOOL_ADDED = N_("an authentication tool was added")
CHANGE_TOOL_LOST = N_("an authentication tool was reported lost and stopped")
CHANGE_TOOL_RESTORED = N_("the loss report of an authentication tool was lifted")
CHANGE_TOOL_REPLACED = N_("an authentication tool was replaced")
CHANGE_TOOL_REVOKED = N_("an authentication tool was revoked")
CHANGE_TOOL_DISABLED = N_("an authentication tool was disabled")
CHANGE_TOOL_ENABLED = N_("an authentication tool was enabled")
CHANGE_TOOL_RESET = N_("the failure counter of an authentication tool was reset")
CHANGE_TOOL_RESYNCED = N_("an e-token was resynchronised")
CHANGE_LIMITS = N_("your payment limits were changed")
CHANGE_CARD_PIN = N_("the PIN of a card was set at the counter")
CHANNEL_CHANGES = {
    "suspend": N_("an e-banking channel was suspended"),
    "resume": N_("an e-banking channel was resumed"),
    "close": N_("an e-banking channel was closed"),
}
CHANGE_PASSWORD = N_("your password was changed")
CHANGE_UNLOCKED = N_("your e-banking was unlocked")


@dataclass(frozen=True)
class Message:
    text: str
    tip: str | None = None
    inbox: bool = True  # one-time codes stay out of the inbox
    sensitive: bool = False  # the parameters are erased once the SMS is sent


MESSAGES: dict[str, Message] = {
    "otp_login": Message(
        N_("Your e-banking login code is {code}, valid for {minutes} minutes."),
        TIP_NEVER_ASK_CODE,
        inbox=False,
        sensitive=True,
    ),
    "otp_payment": Message(
        N_(
            "Code {code} authorises paying {amount} to {payee} (account {payee_account}, {bank}). "
            "Valid for {minutes} minutes."
        ),
        TIP_NEVER_ASK_CODE,
        inbox=False,
        sensitive=True,
    ),
    "otp_security": Message(
        N_("Code {code} authorises: {action_msgid}. Valid for {minutes} minutes."),
        TIP_NEVER_ASK_CODE,
        inbox=False,
        sensitive=True,
    ),
    "registered": Message(
        N_("You are now registered for {channel_msgid} banking ({via_msgid})."), TIP_NOT_YOU
    ),
    "new_device": Message(
        N_("Your e-banking was logged in from a new device: {device}."), TIP_NOT_YOU
    ),
    "security_change": Message(
        N_("Security change on your e-banking: {change_msgid}."), TIP_NOT_YOU
    ),
    "locked": Message(
        N_("Your e-banking is locked after too many failed attempts. Visit a branch to unlock it."),
        TIP_NEVER_ASK_CODE,
    ),
    "service_opened": Message(
        N_("A new service was opened through e-banking: {service_msgid}, account {account}."),
        TIP_NOT_YOU,
    ),
    "payment_executed": Message(
        N_("You paid {amount} from account {from_account} to {payee} (account {payee_account})."),
        TIP_NOT_YOU,
    ),
    "payment_failed": Message(
        N_("Your payment of {amount} to {payee} did not go through: {reason_msgid}."),
        TIP_REFUNDS,
    ),
    "payment_not_made": Message(
        N_("Your payment of {amount} to {payee} was not made: {reason_msgid}."),
        TIP_NEVER_ASK_CODE,
    ),
    "payment_held": Message(
        N_(
            "Your payment of {amount} to {payee} is held for a security check. The bank will "
            "contact you."
        ),
        TIP_SAFE_ACCOUNT,
    ),
    "payment_blocked": Message(
        N_("Your payment of {amount} to {payee} was stopped for your safety."), TIP_SAFE_ACCOUNT
    ),
    "payment_released": Message(
        N_("Your held payment of {amount} to {payee} passed the security check and was made."),
        TIP_NOT_YOU,
    ),
    "payment_voided": Message(
        N_(
            "Your held payment of {amount} to {payee} was stopped after a security check; the "
            "money is available in your account again."
        ),
        TIP_SAFE_ACCOUNT,
    ),
    "recall_requested": Message(
        N_("We received your request to recall {amount} paid to {payee}: {status_msgid}."),
        TIP_REFUNDS,
    ),
    "recall_hold_placed": Message(
        N_(
            "A hold of {amount} was placed on account {account} while a request to return an "
            "erroneous transfer is decided."
        )
    ),
}


def render(kind: str, params: Mapping[str, Any], locale: str) -> str:
    """The notification's text (and its tip) in ``locale``."""
    message = MESSAGES[kind]
    values = {key: _value(key, value, params, locale) for key, value in params.items()}
    text = gettext(message.text, locale, **values)
    if message.tip:
        separator = "" if locale.startswith("zh") else " "  # Chinese sentences run on
        text = f"{text}{separator}{gettext(message.tip, locale)}"
    return text


def _value(key: str, value: Any, params: Mapping[str, Any], locale: str) -> Any:
    if key == "amount" and isinstance(value, int):
        return format_amount(value, str(params.get("currency", "CNY")), locale)
    return value
