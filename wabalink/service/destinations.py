"""Event destinations of a linked WABA: where its events are published."""

from __future__ import annotations

import re
from typing import Any

from wabalink.aws.exceptions import InvalidParametersException

# An SNS topic or an Amazon Connect instance.
EVENT_DESTINATION_ARN = re.compile(
    r"arn:aws[a-z-]*:(sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
    r"|connect:[a-z0-9-]+:\d{12}:instance/[A-Za-z0-9-]+)")


def checked_event_destinations(destinations: list[Any], field: str) -> list[dict[str, Any]]:
    checked = []
    for index, destination in enumerate(destinations):
        arn = destination["eventDestinationArn"]
        if len(arn) > 2048 or not EVENT_DESTINATION_ARN.fullmatch(arn):
            raise InvalidParametersException(
                f"{field}[{index}].eventDestinationArn {arn[:300]} must be an Amazon SNS topic ARN or an "
                "Amazon Connect instance ARN.")
        if arn.endswith(".fifo"):
            raise InvalidParametersException(
                f"{field}[{index}].eventDestinationArn {arn} is a FIFO topic; WhatsApp events are published to "
                "standard SNS topics only.")
        checked.append({key: destination[key] for key in ("eventDestinationArn", "roleArn") if destination.get(key)})
    return checked
