-- TimescaleDB in the template, so every database Odoo creates (and every tenant cloned from a
-- template) can use hypertables; the historian falls back to plain partitions without it.
CREATE EXTENSION IF NOT EXISTS timescaledb;
\c template1
CREATE EXTENSION IF NOT EXISTS timescaledb;
