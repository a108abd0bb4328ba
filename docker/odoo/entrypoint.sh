#!/bin/bash
# Writes odoo.conf from the environment (the master password goes only into this file, mode 600),
# then hands over to the official image's entrypoint.
set -euo pipefail
umask 077
cat > /etc/odoo/odoo.conf <<CONF
[options]
addons_path = /usr/lib/python3/dist-packages/odoo/addons,/mnt/hyperfactory/addons
data_dir = /var/lib/odoo
admin_passwd = ${ODOO_ADMIN_PASSWD}
proxy_mode = True
list_db = False
dbfilter = ${ODOO_DBFILTER:-^%d$}
CONF
unset ODOO_ADMIN_PASSWD
exec /entrypoint.sh "$@"
