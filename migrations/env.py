"""Alembic environment: runs against the engine the caller passes (see ebank.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import ebank.schema

config = context.config
target_metadata = ebank.schema.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        from ebank.config import get_settings
        from ebank.db import Database

        engine = Database(get_settings().database_url).engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
