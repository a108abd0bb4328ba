/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { percent, tileProps } from "@hf_screens/screen/live";

/** OEE of the current shift = availability × performance × quality, each factor shown. */
export class HfOeeTile extends Component {
    static template = "hf_screens.HfOeeTile";
    static components = { HfTile };
    static props = tileProps;

    get oee() {
        return this.props.data.oee || {};
    }
    get factors() {
        const oee = this.oee;
        return [
            { key: "availability", label: "A", value: oee.availability },
            { key: "performance", label: "P", value: oee.performance },
            { key: "quality", label: "Q", value: oee.quality },
        ].map((f) => ({
            ...f,
            text: percent(f.value),
            width: f.value ? Math.round(f.value * 100) : 0,
        }));
    }
    get main() {
        return percent(this.oee.oee);
    }
    get shiftStart() {
        return this.oee.shift_start
            ? new Date(this.oee.shift_start).toLocaleTimeString([], {
                  hour: "2-digit",
                  minute: "2-digit",
              })
            : "";
    }
}

registry.category("hf_screens.tiles").add("oee", HfOeeTile);
