#!/bin/bash
# The roles Hyperfactory runs as, created once by the image's bootstrap superuser; neither is a superuser.
# HF_DB_USER: the operator's Odoo and the ingest (it creates the Odoo database). hf_provisioner:
# hyperfactory-cloud's provisioner, which gives each tenant a role of its own (CREATEROLE).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v db_user="$HF_DB_USER" -v db_password="$HF_DB_PASSWORD" -v provisioner_password="$HF_PROVISIONER_PASSWORD" <<'SQL'
CREATE ROLE :"db_user" LOGIN CREATEDB NOSUPERUSER PASSWORD :'db_password';
CREATE ROLE hf_provisioner LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD :'provisioner_password';
SQL
