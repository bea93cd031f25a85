"""Every capability's tables, imported in one place so the metadata (and Alembic) sees them all."""

from ebank.aml import models as aml_models
from ebank.audit import models as audit_models
from ebank.auth import models as auth_models
from ebank.channels import models as channel_models
from ebank.customers import models as customer_models
from ebank.db import Base
from ebank.ledger import models as ledger_models
from ebank.notify import models as notify_models
from ebank.risk import models as risk_models
from ebank.staff import models as staff_models

metadata = Base.metadata

__all__ = [
    "aml_models",
    "audit_models",
    "auth_models",
    "channel_models",
    "customer_models",
    "ledger_models",
    "metadata",
    "notify_models",
    "risk_models",
    "staff_models",
]
