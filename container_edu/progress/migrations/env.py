"""Alembic's entry point: run on the connection that :func:`container_edu.progress.database.open_database` passes."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
