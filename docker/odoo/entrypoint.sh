#!/bin/bash
# Writes odoo.conf from the environment (the master password goes only into this file, mode 600),
# then hands over to the official image's entrypoint.
set -euo pipefail
TENANT_ADDONS="$(python3 -c 'import hf_saas.settings as s; print(s.TENANT_ADDONS_DIR)')"
umask 077
cat > /etc/odoo/odoo.conf <<CONF
[options]
addons_path = /usr/lib/python3/dist-packages/odoo/addons,/mnt/hyperfactory/addons,${TENANT_ADDONS}
data_dir = /var/lib/odoo
admin_passwd = ${ODOO_ADMIN_PASSWD}
proxy_mode = True
list_db = False
dbfilter = ${ODOO_DBFILTER:-^%d$}
CONF
unset ODOO_ADMIN_PASSWD
exec /entrypoint.sh "$@"
