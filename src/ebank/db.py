"""Storage: one SQLAlchemy engine per process on SQLite (embedded, WAL) or PostgreSQL.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so that a read-then-write inside one
transaction can never fail half-way with a lost snapshot; PostgreSQL uses READ COMMITTED with row
locks taken explicitly (``SELECT … FOR UPDATE``) where a use case reads what it then writes.
"""

from __future__ import annotations

import json
import threading
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from psycopg import pq
from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, configure_mappers
from sqlalchemy.orm.attributes import manager_of_class
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, typed as one (``__table__`` is typed as a bare FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalize_url(url: str) -> URL:
    """Accept ``postgres://``/``postgresql://`` and pick the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """The engine and the two kinds of transaction the app uses: read and write."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = _create_engine(self.url, echo=echo)
        self._writer = self.engine.execution_options(ebank_write=True)
        self._held = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A connection for reads that need no snapshot across statements: on PostgreSQL each
        statement commits on its own (no BEGIN or ROLLBACK to wait for)."""
        if not self.is_postgres:
            with self.engine.connect() as conn:
                yield conn
            return
        with self._kept("read", self.engine, isolation_level="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction that commits when the block ends without an exception."""
        if getattr(self._held, "on", False):
            with (
                self._kept("write", self._writer) as conn,
                conn.begin(),
                Session(bind=conn, expire_on_commit=False) as session,
            ):
                yield session
                session.flush()
            return
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Let the calling thread (a batch worker) keep its connections between transactions:
        no pool checkout, liveness ping and return for each one, and on PostgreSQL the
        statements it prepared stay prepared. A connection is replaced after a database error."""
        self._held.on = True
        self._held.connections = {}
        try:
            yield
        finally:
            self._held.on = False
            for conn in self._held.connections.values():
                conn.close()
            self._held.connections = {}

    @contextmanager
    def _kept(self, role: str, engine: Engine, **options: Any) -> Iterator[Connection]:
        if not getattr(self._held, "on", False):
            with engine.connect() as conn:
                yield conn.execution_options(**options) if options else conn
            return
        conn = self._held.connections.get(role)
        if conn is None or conn.closed or conn.invalidated:
            conn = engine.connect()
            if options:
                conn = conn.execution_options(**options)
            self._held.connections[role] = conn
        try:
            yield conn
        except DBAPIError:
            self._held.connections.pop(role, None)
            conn.close()
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only view of one instant, for checks that read many tables while the bank keeps
        writing (verifications): REPEATABLE READ on PostgreSQL; a SQLite read transaction in WAL
        mode already sees one snapshot from its first read on."""
        options = (
            {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if self.is_postgres
            else {}
        )
        with self.engine.connect() as raw:
            conn = raw.execution_options(**options)
            with conn.begin():
                yield conn

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A write transaction on a plain connection (Core statements only)."""
        with self._kept("write", self._writer) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        echo=echo,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _create_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # durable when acknowledged, even on power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("ebank_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_transient(exc: DBAPIError) -> bool:
    """Deadlocks, serialization failures and a busy SQLite file: the transaction may be tried
    again as it was."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    message = str(exc.orig).lower() if exc.orig is not None else ""
    return "database is locked" in message or "database is busy" in message


class _ListParam(TypeDecorator[list[Any]]):
    """A list of values as one bind parameter: an array on PostgreSQL, JSON text on SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, item_type: Any) -> None:
        super().__init__()
        self.item_type = item_type

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.item_type))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        values = list(value)
        return values if dialect.name == "postgresql" else json.dumps(values)


class _Among(ColumnElement[bool]):
    """``column`` is one of the values of a list parameter (see :func:`among`)."""

    __visit_name__ = "ebank_among"
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 -- SQLAlchemy's declaration of the element's parts
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()

    def __init__(self, column: Any, values: BindParameter[Any]) -> None:
        self.column = column
        self.values = values


@compiles(_Among, "postgresql")
def _among_postgresql(element: _Among, compiler: Any, **kw: Any) -> str:
    return (
        f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.values, **kw)})"
    )


@compiles(_Among)
def _among_json(element: _Among, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"  # noqa: S608 -- compiled SQL, no text


def among(column: Any, name: str) -> ColumnElement[bool]:
    """``column`` is one of the values given at execution as the list parameter ``name`` — an
    array on PostgreSQL (``= ANY``), a JSON list on SQLite (``json_each``). One bind parameter
    however many values, so a statement built once (at import) compiles and is prepared once."""
    return _Among(column, bindparam(name, type_=_ListParam(column.type)))


def one_of(column: Any, values: Any) -> ColumnElement[bool]:
    """:func:`among` with the values given now, for statements built on the spot."""
    return _Among(column, bindparam(None, list(values), type_=_ListParam(column.type)))


class NewRows:
    """Rows a batch creates (mapped objects), written with one insert per table when the batch
    is done (:func:`bulk_insert`) rather than one by one by the session."""

    def __init__(self) -> None:
        self._rows: dict[Table, list[dict[str, Any]]] = {}

    def add(self, row: Base) -> None:
        table = table_of(type(row))
        state = row.__dict__
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.key in state:
                values[column.name] = state[column.key]
            elif column.default is not None and column.default.is_scalar:
                values[column.name] = column.default.arg  # type: ignore[attr-defined]
            elif not (column.primary_key and column.autoincrement in (True, "auto")):
                values[column.name] = None
        self._rows.setdefault(table, []).append(values)

    def write(self, conn: Connection) -> None:
        for table, rows in self._rows.items():
            bulk_insert(conn, table, rows)
        self._rows = {}


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with one statement on PostgreSQL (the rows travel as one JSON document,
    unpacked server-side); an executemany elsewhere (SQLite runs in-process)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, table, rows)
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    statement, document = json_insert(table, rows, "rows")
    driver_execute(conn, statement, {"rows": document})


def bulk_update(
    conn: Connection, table: Table, rows: list[dict[str, Any]], key: str = "id"
) -> None:
    """Set the given columns of many rows, each found by ``key``: one statement on PostgreSQL
    (``UPDATE … FROM`` the rows as one JSON document); an executemany elsewhere. Every row
    carries the same columns."""
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    if conn.dialect.name == "postgresql":
        assignments = ", ".join(f'"{name}" = r."{name}"' for name in names)
        columns = ", ".join(f'"{name}"' for name in (key, *names))
        # "= ANY(keys)" lets the planner find the rows by index whatever it guesses of the JSON.
        driver_execute(
            conn,
            f'UPDATE "{table.name}" AS t SET {assignments} '  # noqa: S608 -- names come from the table definition
            f"FROM (SELECT {columns} FROM json_populate_recordset("
            f'NULL::"{table.name}", %(rows)s::json)) AS r '
            f'WHERE t."{key}" = r."{key}" AND t."{key}" = ANY(%(keys)s)',
            {"rows": to_json(rows), "keys": [row[key] for row in rows]},
        )
        return
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({name: bindparam(f"b_{name}") for name in names})
    )
    conn.execute(statement, [{f"b_{name}": value for name, value in row.items()} for row in rows])


def _sqlite_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """An executemany straight to the driver: SQLite runs in-process, so the cost that remains is
    per-value parameter processing, which this reduces to the columns that need it (values take
    the forms the column types store)."""
    columns = [c for c in table.columns if c.name in rows[0]]
    names = ", ".join(f'"{c.name}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608 -- names come from the table definition
    order = [c.name for c in columns]
    converters = [
        (index, convert)
        for index, column in enumerate(columns)
        if (convert := _sqlite_converter(column.type)) is not None
    ]
    values: list[tuple[Any, ...]] = []
    for row in rows:
        record = [row[name] for name in order]
        for index, convert in converters:
            record[index] = convert(record[index])
        values.append(tuple(record))
    conn.exec_driver_sql(statement, values)


def _sqlite_converter(column_type: Any) -> Any:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_datetime
    if isinstance(column_type, Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(column_type, Boolean):
        return lambda v: None if v is None else int(v)
    return None


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def json_insert(table: Table, rows: list[dict[str, Any]], param: str) -> tuple[str, str]:
    """PostgreSQL ``INSERT … SELECT FROM json_populate_recordset(%(param)s)`` and its JSON
    document (encoded by the json module in C; psycopg adapts long arrays in Python)."""
    names = ", ".join(f'"{c.name}"' for c in table.columns if c.name in rows[0])
    statement = (
        f'INSERT INTO "{table.name}" ({names}) '  # noqa: S608 -- names come from the table definition
        f'SELECT {names} FROM json_populate_recordset(NULL::"{table.name}", %({param})s::json)'
    )
    return statement, to_json(rows)


def to_json(value: Any) -> str:
    """Rows (or any value) as the JSON document PostgreSQL reads back into them: bytes in bytea's
    text form, datetimes in UTC. orjson: a batch's rows in a sixth of the json module's time."""
    return orjson.dumps(value, default=_json_value, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea's text form
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


class DirectRead:
    """A read on a hot path (each payment runs a dozen), run on PostgreSQL straight on the
    driver's cursor: SQLAlchemy's execution of a statement it has already compiled and cached
    still costs about twice the driver's own work (cache key, parameter and result set-up), and
    on two cores that was a tenth of the app's CPU per payment (docs/benchmarks.md).

    The statement is compiled once for PostgreSQL; its first run goes through SQLAlchemy, which
    names the result's columns. Parameters pass through their types' bind conversions and
    result values through their result conversions (UTC datetimes, say), as SQLAlchemy would;
    rows are named tuples. A driver error is raised as SQLAlchemy's :class:`DBAPIError`, as the
    callers expect (transient errors retried, broken connections replaced). Elsewhere (SQLite,
    in-process) the statement runs through SQLAlchemy. Values known when the statement is built
    travel as ordinary parameters (:func:`one_of`, not ``in_``, whose expanding parameter is
    rendered per execution)."""

    def __init__(self, statement: Any) -> None:
        expanding = [name for name, bind in statement.compile().binds.items() if bind.expanding]
        if expanding:
            raise TypeError(f"{expanding}: expanding parameters (use one_of, not in_)")
        self.statement = statement
        self._plan: _DirectPlan | None = None

    def rows(self, conn: Connection, params: dict[str, Any] | None = None) -> list[Any]:
        given = params or {}
        if conn.dialect.name != "postgresql":
            return list(conn.execute(self.statement, given))
        plan = self._plan
        if plan is None:
            result = conn.execute(self.statement, given)
            described = result.cursor.description if result.cursor is not None else None
            self._plan = _DirectPlan(
                self.statement,
                conn.dialect,
                list(result.keys()),
                [column[1] for column in described or ()],
            )
            return [self._plan.row_type(*row) for row in result]
        return plan.run(conn, given)

    def objects(
        self, session: Session, model: type[M], params: dict[str, Any], *, in_session: bool
    ) -> list[M]:
        """The rows of ``select(model)`` as ``model``'s objects: loaded by the session like any
        ORM query (which writes what changes in them), or :func:`built` in no session."""
        if in_session:
            return list(session.scalars(self.statement, params))
        return [built(model, row) for row in self.rows(session.connection(), params)]


class _DirectPlan:
    def __init__(
        self, statement: Any, dialect: Any, keys: list[str], type_codes: list[Any]
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.fixed: dict[str, Any] = {}
        self.converters: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                self.converters[name] = convert
            if not bind.required and bind.callable is None:
                self.fixed[name] = bind.value
        self.row_type: Any = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        columns = list(getattr(statement, "selected_columns", ()))
        self.results = [
            (index, convert)
            for index, (column, type_code) in enumerate(zip(columns, type_codes, strict=False))
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, type_code))
            is not None
        ]

    def run(self, conn: Connection, given: dict[str, Any]) -> list[Any]:
        values = {**self.fixed, **given}
        for name, convert in self.converters.items():
            values[name] = convert(values[name])
        fetched = driver_execute(conn, self.sql, values)
        if not self.results:
            return [self.row_type(*row) for row in fetched]
        rows = []
        for row in fetched:
            record = list(row)
            for index, convert in self.results:
                record[index] = convert(record[index])
            rows.append(self.row_type(*record))
        return rows


M = TypeVar("M", bound=Base)


def built(model: type[M], row: Sequence[Any]) -> M:
    """``model``'s object holding the values that lead ``row`` — its table's columns in order, as
    a :class:`DirectRead` of ``select(model, …)`` returns them — built without the ORM's loading
    machinery (per statement, that machinery cost a batch more than the read itself) and in no
    session: a batch that locks rows this way writes what it changes itself (:func:`bulk_update`).
    """
    keys = _attribute_keys(model)
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update(zip(keys, row, strict=False))  # the row may carry more
    return instance


_KEYS_BY_MODEL: dict[type[Base], tuple[str, ...]] = {}


def _attribute_keys(model: type[Base]) -> tuple[str, ...]:
    keys = _KEYS_BY_MODEL.get(model)
    if keys is None:
        configure_mappers()  # as the ORM's first query would: the attributes' set-up
        mapper = model.__mapper__
        keys = tuple(mapper.get_property_by_column(c).key for c in table_of(model).columns)
        _KEYS_BY_MODEL[model] = keys
    return keys


def driver_execute(conn: Connection, sql: str, values: dict[str, Any]) -> list[Any]:
    """Run SQL written for PostgreSQL's driver (``%(name)s`` parameters) straight on the
    connection's cursor, in its transaction: ``exec_driver_sql`` for the hot path, at about half
    its CPU (see :class:`DirectRead`). Returns the rows, if the statement returns any; a driver
    error is raised as SQLAlchemy's :class:`DBAPIError` (without the parameters: they may carry
    customers' data)."""
    dbapi_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    if conn.dispatch.before_cursor_execute:  # whoever listens (tests, tracing) sees it too
        conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, False)
    try:
        cursor.execute(sql, values)
        result = cursor.pgresult  # its status is cheaper to ask than the description
        return (
            cursor.fetchall()
            if result is not None and result.status == pq.ExecStatus.TUPLES_OK
            else []
        )
    except dbapi_error as exc:
        if conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor):  # type: ignore[arg-type]
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, values, exc, dbapi_error, hide_parameters=True) from exc
    finally:
        cursor.close()
