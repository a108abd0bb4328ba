/** @odoo-module **/

import { Component, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatNumber, tileProps } from "@hf_screens/screen/live";

/**
 * Limit violations of the workcell's tags (or of the tile's own tags). Acknowledging is recorded on the server
 * (who, when) and shared by every screen of the workcell; it holds until the value is back within its limits.
 */
export class HfAlarms extends Component {
    static template = "hf_screens.HfAlarms";
    static components = { HfTile };
    static props = tileProps;

    setup() {
        this.state = useState({ busy: "", message: "" });
    }

    get alarms() {
        const watched = this.props.widget.tag_ids;
        return (this.props.data.alarms || [])
            .filter((a) => !watched.length || watched.includes(a.tag_id))
            .map((a) => ({ ...a, text: formatNumber(a.value, 1) }));
    }
    get unacked() {
        return this.alarms.filter((a) => !a.acked_by).length;
    }
    async acknowledge(alarm) {
        if (this.state.busy) {
            return;
        }
        this.state.busy = alarm.key;
        this.state.message = "";
        try {
            const result = await this.props.api.action("ack", {
                tag_id: alarm.tag_id,
                kind: alarm.kind,
            });
            if (!result.ok) {
                this.state.message = result.message;
            }
        } catch {
            this.state.message = _t("The server did not answer: check the network and try again.");
        } finally {
            this.state.busy = "";
        }
    }
}

registry.category("hf_screens.tiles").add("alarms", HfAlarms);
