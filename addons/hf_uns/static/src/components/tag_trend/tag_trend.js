/** @odoo-module **/

import {
    Component,
    onMounted,
    onWillUnmount,
    onWillUpdateProps,
    useRef,
    useState,
} from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

const WINDOWS = [
    { key: "1h", label: "1 h", seconds: 3600 },
    { key: "24h", label: "24 h", seconds: 86400 },
    { key: "7d", label: "7 days", seconds: 7 * 86400 },
    { key: "30d", label: "30 days", seconds: 30 * 86400 },
];

/** Trend of one tag's history (min/avg/max per bucket), drawn with the Chart.js Odoo ships. */
export class HfTagTrend extends Component {
    static template = "hf_uns.HfTagTrend";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.canvasRef = useRef("canvas");
        this.windows = WINDOWS;
        // 1 h first: a new tag has its samples in it (a 24 h window of a minute-old tag is one bucket)
        this.state = useState({ window: "1h", error: "", empty: false, loading: true });
        this.chart = null;
        onMounted(() => this.load());
        onWillUpdateProps((next) => {
            if (next.record.data.topic !== this.props.record.data.topic) {
                this.load(next.record.data.topic);
            }
        });
        onWillUnmount(() => this.chart?.destroy());
    }

    async selectWindow(key) {
        this.state.window = key;
        await this.load();
    }

    async load(topic = this.props.record.data.topic) {
        if (!topic) {
            return;
        }
        const seconds = WINDOWS.find((w) => w.key === this.state.window).seconds;
        const end = new Date();
        const start = new Date(end.getTime() - seconds * 1000);
        this.state.loading = true;
        try {
            await loadBundle("web.chartjs_lib");
            const history = await this.orm.call("hf.uns.tag", "read_history", [
                topic,
                start.toISOString(),
                end.toISOString(),
                300,
            ]);
            this.state.error = "";
            this.state.empty = history.points.length === 0;
            this.draw(history);
        } catch (error) {
            this.state.error =
                error.data?.message || error.message || _t("The history could not be read.");
        } finally {
            this.state.loading = false;
        }
    }

    draw(history) {
        const labels = history.points.map((p) => new Date(p.time).toLocaleString());
        const series = (key) =>
            history.points.map((p) => (typeof p[key] === "number" ? p[key] : null));
        // a few points are drawn as dots: a line needs two, and a lone sample must not be invisible
        const pointRadius = history.points.length < 30 ? 3 : 0;
        const data = {
            labels,
            datasets: [
                {
                    label: _t("average"),
                    data: series("avg"),
                    borderColor: "#017e84",
                    pointRadius,
                    tension: 0.2,
                },
                {
                    label: _t("min"),
                    data: series("min"),
                    borderColor: "#a0c4c6",
                    pointRadius: 0,
                    borderDash: [4, 4],
                },
                {
                    label: _t("max"),
                    data: series("max"),
                    borderColor: "#a0c4c6",
                    pointRadius: 0,
                    borderDash: [4, 4],
                },
            ],
        };
        if (this.chart) {
            this.chart.data = data;
            this.chart.update();
            return;
        }
        this.chart = new window.Chart(this.canvasRef.el, {
            type: "line",
            data,
            options: {
                animation: false,
                maintainAspectRatio: false,
                scales: { y: { title: { display: !!history.unit, text: history.unit } } },
            },
        });
    }
}

registry.category("view_widgets").add("hf_tag_trend", { component: HfTagTrend });
