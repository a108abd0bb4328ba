-- The columns of Odoo's hf_uns tables that the ingest reads and writes (docs/contracts.md), for
-- tests that run without Odoo. The Odoo suites and tests/test_end_to_end.py use the real tables.
CREATE TABLE mrp_workcenter (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    company_id integer,
    hf_uns_path varchar
);
CREATE TABLE hf_uns_tag (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    tag_group varchar,
    workcenter_id integer NOT NULL REFERENCES mrp_workcenter (id),
    company_id integer,
    data_type varchar NOT NULL,
    role varchar NOT NULL,
    topic varchar,
    historian boolean,
    active boolean,
    discovered boolean,
    retention_class varchar NOT NULL,
    sampling_interval_ms integer,
    deadband double precision,
    scale_gain numeric,
    scale_offset numeric,
    modbus_unit_id integer,
    modbus_byte_order varchar,
    modbus_word_order varchar,
    create_date timestamp,
    write_date timestamp,
    CONSTRAINT hf_uns_tag_topic_unique UNIQUE (topic)
);
