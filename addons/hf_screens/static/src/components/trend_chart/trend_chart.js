/** @odoo-module **/

import { Component, onMounted, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";
import { isStale, liveAge, tileProps } from "@hf_screens/screen/live";

const WINDOWS = [10, 60, 480, 1440];

function clock(ms) {
    return new Date(ms).toLocaleTimeString([], {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
    });
}

/**
 * A tag's trend drawn with the Chart.js Odoo ships: scrolls live with every new value, or shows a chosen
 * past window (back / forward by one window, "Live" returns).
 */
export class HfTrendChart extends Component {
    static template = "hf_screens.HfTrendChart";
    static components = { HfTile };
    static props = tileProps;

    setup() {
        this.canvasRef = useRef("canvas");
        this.windows = WINDOWS;
        this.state = useState({
            minutes: this.props.widget.trend_minutes || 10,
            end: null, // null = live
            message: "",
            loading: false,
        });
        this.chart = null;
        this.points = [];
        onMounted(() => this.load());
        onWillUnmount(() => this.chart?.destroy());
        useEffect(
            (time) => this.append(time),
            () => [this.props.value?.time],
        );
    }

    get entry() {
        return this.props.value;
    }
    get live() {
        return this.state.end === null;
    }
    get problem() {
        if (this.props.widget.problem) {
            return this.props.widget.problem;
        }
        if (this.entry && this.entry.data_type === "string") {
            return _t("This tag sends text; a trend needs numbers: use a value tile.");
        }
        return "";
    }
    get windowLabel() {
        const m = this.state.minutes;
        return m < 60 ? `${m} min` : `${m / 60} h`;
    }
    get rangeLabel() {
        if (this.live) {
            return _t("Live · last %s", this.windowLabel);
        }
        const end = this.state.end;
        return `${clock(end - this.state.minutes * 60000)} – ${clock(end)}`;
    }
    get stale() {
        return this.live && isStale(this.entry, this.props.elapsed, this.props.offline);
    }
    get age() {
        return liveAge(this.entry, this.props.elapsed);
    }

    async load() {
        if (this.problem || !this.props.widget.tag_id) {
            return;
        }
        this.state.loading = true;
        try {
            await loadBundle("web.chartjs_lib");
            const end = this.state.end ? new Date(this.state.end).toISOString() : null;
            const history = await this.props.api.history(
                this.props.widget.tag_id,
                this.state.minutes,
                end,
            );
            if (!history.ok) {
                this.state.message = history.message;
                return;
            }
            this.state.message = "";
            this.points = history.points
                .filter((p) => typeof (p.last ?? p.avg) === "number")
                .map((p) => ({ x: Date.parse(p.time), y: p.last ?? p.avg }));
            this.draw();
        } catch {
            this.state.message = _t("The history could not be loaded; it will be retried.");
            setTimeout(() => this.load(), 5000);
        } finally {
            this.state.loading = false;
        }
    }

    append(time) {
        const entry = this.entry;
        if (!this.chart || !this.live || !time || typeof entry?.value !== "number") {
            return;
        }
        const x = Date.parse(time);
        const last = this.points[this.points.length - 1];
        if (last && x <= last.x) {
            return;
        }
        this.points.push({ x, y: entry.value });
        const start = x - this.state.minutes * 60000;
        while (this.points.length && this.points[0].x < start) {
            this.points.shift();
        }
        this.draw();
    }

    draw() {
        const canvas = this.canvasRef.el;
        if (!canvas || !window.Chart) {
            return;
        }
        const unit = this.entry?.unit || "";
        const style = getComputedStyle(canvas);
        const fg = style.getPropertyValue("--hf-muted").trim() || "#999";
        const accent = style.getPropertyValue("--hf-accent").trim() || "#00a09d";
        const end = this.state.end || Date.now();
        // A line needs two points: a lone sample (a young or rarely sampled tag) is drawn as a dot.
        const pointRadius = this.points.length === 1 ? 5 : 0;
        const data = {
            datasets: [
                {
                    data: this.points,
                    borderColor: accent,
                    backgroundColor: accent,
                    pointRadius,
                    borderWidth: 3,
                    tension: 0.2,
                },
            ],
        };
        if (this.chart) {
            this.chart.data = data;
            this.chart.options.scales.x.min = this.live
                ? undefined
                : end - this.state.minutes * 60000;
            this.chart.options.scales.x.max = this.live ? undefined : end;
            this.chart.update("none");
            return;
        }
        this.chart = new window.Chart(canvas, {
            type: "line",
            data,
            options: {
                animation: false,
                maintainAspectRatio: false,
                parsing: false,
                plugins: { legend: { display: false }, tooltip: { enabled: true } },
                scales: {
                    x: {
                        type: "linear",
                        ticks: { color: fg, maxTicksLimit: 6, callback: (v) => clock(v) },
                        grid: { color: "rgba(128,128,128,0.2)" },
                    },
                    y: {
                        ticks: { color: fg, font: { size: 14 } },
                        title: { display: !!unit, text: unit, color: fg },
                        grid: { color: "rgba(128,128,128,0.2)" },
                    },
                },
            },
        });
    }

    setWindow(minutes) {
        this.state.minutes = minutes;
        this.load();
    }
    back() {
        const end = this.state.end || Date.now();
        this.state.end = end - this.state.minutes * 60000;
        this.load();
    }
    forward() {
        if (this.live) {
            return;
        }
        const end = this.state.end + this.state.minutes * 60000;
        this.state.end = end >= Date.now() ? null : end;
        this.load();
    }
    goLive() {
        this.state.end = null;
        this.load();
    }
}

registry.category("hf_screens.tiles").add("trend", HfTrendChart);
