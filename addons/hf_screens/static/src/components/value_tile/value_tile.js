/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatValue, isStale, liveAge, tileProps } from "@hf_screens/screen/live";

/** One tag's value, large, with its unit; red past its limits. */
export class HfValueTile extends Component {
    static template = "hf_screens.HfValueTile";
    static components = { HfTile };
    static props = tileProps;

    get entry() {
        return this.props.value;
    }
    get dataValue() {
        const value = this.entry?.value;
        return value === null || value === undefined ? "" : String(value);
    }
    get text() {
        return formatValue(this.entry, this.props.widget.decimals);
    }
    /** Characters to fit in the tile's width (see value_tile.scss): the number's and the unit's. */
    get fitStyle() {
        const unit = this.entry?.unit || "";
        return `--hf-value-chars: ${Math.max(1, this.text.length)}; --hf-unit-chars: ${unit.length};`;
    }
    get alert() {
        const entry = this.entry;
        if (!entry || typeof entry.value !== "number" || entry.limit_high <= entry.limit_low) {
            return "";
        }
        if (entry.value > entry.limit_high) {
            return "high";
        }
        return entry.value < entry.limit_low ? "low" : "";
    }
    get stale() {
        return isStale(this.entry, this.props.elapsed, this.props.offline);
    }
    get age() {
        return liveAge(this.entry, this.props.elapsed);
    }
}

registry.category("hf_screens.tiles").add("value", HfValueTile);
