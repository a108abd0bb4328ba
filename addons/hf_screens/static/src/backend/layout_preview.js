/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { HfMachineScreen } from "@hf_screens/screen/machine_screen";

const TAG_KINDS = ["value", "gauge", "trend", "state", "ml_score"];

/**
 * Screen designer preview: the saved screen live (real values, polling like a kiosk); while the tile list has
 * unsaved edits, the tiles as they will sit on the 12-column grid.
 */
export class HfScreenLayoutPreview extends Component {
    static template = "hf_screens.HfScreenLayoutPreview";
    static components = { HfMachineScreen };
    static props = { ...standardWidgetProps };

    get record() {
        return this.props.record;
    }
    get live() {
        return this.record.resId && !this.record.dirty;
    }
    get liveKey() {
        return `${this.record.resId}-${this.record.data.write_date}`;
    }
    get theme() {
        return this.record.data.theme || "dark";
    }
    get tiles() {
        const list = this.record.data.widget_ids;
        return (list?.records || []).map((rec) => {
            const d = rec.data;
            return {
                id: rec.id,
                kind: d.kind,
                title: d.name || (d.tag_id && d.tag_id.display_name) || d.bound_tag_name || d.kind,
                style: `--hf-x: ${(d.x || 0) + 1}; --hf-y: ${(d.y || 0) + 1}; --hf-w: ${d.w || 1}; --hf-h: ${d.h || 1};`,
                unbound: TAG_KINDS.includes(d.kind) && !d.tag_id,
            };
        });
    }
}

registry
    .category("view_widgets")
    .add("hf_screen_layout_preview", { component: HfScreenLayoutPreview });
