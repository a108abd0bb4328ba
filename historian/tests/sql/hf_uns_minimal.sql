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
    data_contract varchar,
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
CREATE TABLE hf_uns_analytics_event (
    id serial PRIMARY KEY,
    event_key varchar NOT NULL,
    direction varchar NOT NULL,
    topic varchar,
    workcenter_id integer NOT NULL REFERENCES mrp_workcenter (id) ON DELETE CASCADE,
    company_id integer,
    event_type varchar NOT NULL,
    payload text,
    received_at timestamp,
    state varchar NOT NULL,
    error text,
    processed_at timestamp,
    create_date timestamp,
    write_date timestamp,
    CONSTRAINT hf_uns_analytics_event_event_key_unique UNIQUE (event_key)
);
CREATE TABLE hf_uns_data_contract (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    payload_shape varchar NOT NULL,
    active boolean,
    company_id integer NOT NULL
);
-- what the ingest needs of Odoo's cron tables to wake a job (ir_cron's _trigger does the same)
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY,
    module varchar NOT NULL,
    name varchar NOT NULL,
    model varchar NOT NULL,
    res_id integer
);
CREATE TABLE ir_cron (
    id serial PRIMARY KEY,
    cron_name varchar,
    active boolean
);
CREATE TABLE ir_cron_trigger (
    id serial PRIMARY KEY,
    cron_id integer REFERENCES ir_cron (id) ON DELETE CASCADE,
    call_at timestamp,
    create_uid integer,
    create_date timestamp,
    write_uid integer,
    write_date timestamp
);
WITH cron AS (INSERT INTO ir_cron (cron_name, active) VALUES ('Hyperfactory: apply analytics events from the UNS', true)
              RETURNING id)
INSERT INTO ir_model_data (module, name, model, res_id)
SELECT 'hf_uns', 'ir_cron_process_analytics_events', 'ir.cron', id FROM cron;
