"""The `socialmessaging` service model, loaded from the installed botocore.

The model is the single source of truth for routing, validation and serialization.
Only `botocore.loaders` and `botocore.model` are used: creating a full botocore
Session costs far more at start-up and brings nothing the server needs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

SERVICE_NAME = "socialmessaging"
SIGNING_NAME = "social-messaging"


@lru_cache(maxsize=1)
def load_service_description() -> dict[str, Any]:
    """The raw `service-2` JSON description (cached; loaded once per process)."""
    return Loader().load_service_model(SERVICE_NAME, "service-2")


@lru_cache(maxsize=1)
def load_service_model() -> ServiceModel:
    """The botocore `ServiceModel` for socialmessaging (cached; loaded once per process)."""
    return ServiceModel(load_service_description(), service_name=SERVICE_NAME)
