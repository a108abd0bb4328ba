"""The historian: one narrow table of samples beside Odoo's tables, its rollups, writes and reads.

TimescaleDB is used when its extension can be created (hypertable, compression, retention,
continuous aggregates); otherwise native PostgreSQL partitions by retention class and day, with
rollup tables kept current by the writer. The read API is the same SQL either way.
"""
