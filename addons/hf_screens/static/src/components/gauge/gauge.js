/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { formatValue, isStale, liveAge, tileProps } from "@hf_screens/screen/live";

const START = Math.PI * 0.75; // the arc runs from 7:30 to 4:30, 270°
const SWEEP = Math.PI * 1.5;

function arcPath(fraction, radius = 80) {
    const end = START + SWEEP * Math.max(0, Math.min(1, fraction));
    const point = (angle) => [100 + radius * Math.cos(angle), 100 + radius * Math.sin(angle)];
    const [x0, y0] = point(START);
    const [x1, y1] = point(end);
    const large = end - START > Math.PI ? 1 : 0;
    return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${radius} ${radius} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

/** A round gauge between the tile's scale min and max, limits marked. Numbers only. */
export class HfGauge extends Component {
    static template = "hf_screens.HfGauge";
    static components = { HfTile };
    static props = tileProps;

    get entry() {
        return this.props.value;
    }
    get dataValue() {
        const value = this.entry?.value;
        return value === null || value === undefined ? "" : String(value);
    }
    get problem() {
        if (this.props.widget.problem) {
            return this.props.widget.problem;
        }
        const value = this.entry?.value;
        if (value !== null && value !== undefined && typeof value !== "number") {
            return _t(
                "This tag sends text (“%s”); a gauge needs a number: use a value tile.",
                String(value),
            );
        }
        return "";
    }
    get fraction() {
        const { min, max } = this.props.widget;
        const value = this.entry?.value;
        return typeof value === "number" ? (value - min) / (max - min) : 0;
    }
    get alert() {
        const entry = this.entry;
        if (!entry || typeof entry.value !== "number" || entry.limit_high <= entry.limit_low) {
            return "";
        }
        return entry.value > entry.limit_high ? "high" : entry.value < entry.limit_low ? "low" : "";
    }
    get trackPath() {
        return arcPath(1);
    }
    get valuePath() {
        return arcPath(this.fraction);
    }
    get text() {
        return formatValue(this.entry, this.props.widget.decimals);
    }
    /** A long value shrinks to stay inside the arc (160 of the 200 view-box units; a bold digit ≤ 0.7 em). */
    get textStyle() {
        const size = Math.min(34, Math.floor(160 / (0.7 * Math.max(1, this.text.length))));
        return `font-size: ${size}px`;
    }
    get stale() {
        return isStale(this.entry, this.props.elapsed, this.props.offline);
    }
    get age() {
        return liveAge(this.entry, this.props.elapsed);
    }
}

registry.category("hf_screens.tiles").add("gauge", HfGauge);
