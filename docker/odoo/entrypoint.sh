#!/bin/bash
# Writes odoo.conf (mode 600) then hands over to the official image's entrypoint. The master password
# (ODOO_ADMIN_PASSWD, from a Secret or .env) goes only into this file; without it Odoo would fall back
# to its default "admin", so it is required.
#   HF_ODOO_BASE_CONF  a rendered odoo.conf to start from (Kubernetes: the ConfigMap hf-saas renders)
#   HF_ODOO_ADDONS_PATH  addons path otherwise (the tenants' Odoo: never /mnt/hyperfactory/operator-addons)
set -euo pipefail
umask 077
: "${ODOO_ADMIN_PASSWD:?ODOO_ADMIN_PASSWD (the Odoo master password) must be set, from a Secret}"
conf="${HF_ODOO_CONF:-/etc/odoo/odoo.conf}"
if [ -n "${HF_ODOO_BASE_CONF:-}" ]; then
    grep -v '^admin_passwd' "$HF_ODOO_BASE_CONF" > "$conf"
    printf 'admin_passwd = %s\n' "$ODOO_ADMIN_PASSWD" >> "$conf"
else
    cat > "$conf" <<CONF
[options]
addons_path = ${HF_ODOO_ADDONS_PATH:-/usr/lib/python3/dist-packages/odoo/addons,/mnt/hyperfactory/addons,/mnt/hyperfactory/operator-addons}
data_dir = /var/lib/odoo
admin_passwd = ${ODOO_ADMIN_PASSWD}
proxy_mode = True
list_db = False
dbfilter = ${ODOO_DBFILTER:-^%d$}
CONF
fi
unset ODOO_ADMIN_PASSWD
exec "${HF_ODOO_NEXT:-/entrypoint.sh}" "$@"
