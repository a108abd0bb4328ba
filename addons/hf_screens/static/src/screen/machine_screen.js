/** @odoo-module **/

import { Component, onMounted, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { HfTile } from "@hf_screens/components/tile/tile";

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 10000;
const OFFLINE_AFTER_S = 3;

/**
 * A machine screen: polls its data once a second (one JSON request for every tile), draws the grid, and
 * keeps polling through network or server drops with a capped backoff, marking everything stale meanwhile.
 * Used by the backend client action (logged-in user) and by the public kiosk page (token).
 */
export class HfMachineScreen extends Component {
    static template = "hf_screens.HfMachineScreen";
    static components = { HfTile };
    static props = {
        screenId: { type: Number, optional: true },
        token: { type: String, optional: true },
        onClose: { type: Function, optional: true },
    };

    setup() {
        this.state = useState({
            data: null,
            refused: "",
            failures: 0,
            lastOk: 0,
            tick: Date.now(),
            painted: 0,
        });
        // A kiosk's token travels in a header, not in the URL: it is not written to the server's access log
        // on every poll (the kiosk page's own URL holds it once).
        const base = this.props.token ? "/hf/kiosk" : `/hf/screen/${this.props.screenId}`;
        this.urls = { data: `${base}/data`, action: `${base}/action`, history: `${base}/history` };
        this.rpcSettings = { silent: true };
        if (this.props.token) {
            this.rpcSettings.headers = { "X-HF-Kiosk-Token": this.props.token };
        }
        this.api = {
            action: async (action, params) => {
                const result = await this.call(this.urls.action, { action, params });
                this.pollNow();
                return result;
            },
            history: (tagId, minutes, end) =>
                this.call(this.urls.history, { tag_id: tagId, minutes, end }),
        };
        this.tiles = registry.category("hf_screens.tiles");
        onMounted(() => {
            this.alive = true;
            this.poll();
            this.clock = setInterval(() => (this.state.tick = Date.now()), 1000);
        });
        onWillUnmount(() => {
            this.alive = false;
            clearTimeout(this.timer);
            clearInterval(this.clock);
        });
    }

    get data() {
        return this.state.data;
    }
    get elapsed() {
        return this.state.lastOk ? Math.max(0, (this.state.tick - this.state.lastOk) / 1000) : 0;
    }
    get offline() {
        return this.state.failures > 0 && this.elapsed > OFFLINE_AFTER_S;
    }
    get theme() {
        return this.data?.screen.theme || "dark";
    }
    get title() {
        const screen = this.data?.screen;
        return screen ? screen.workcenter?.name || screen.line || screen.name : "";
    }
    get lastUpdate() {
        return this.state.lastOk ? new Date(this.state.lastOk).toLocaleTimeString() : "—";
    }

    tileComponent(widget) {
        return this.tiles.get(widget.kind, null);
    }
    tileStyle(widget) {
        return `--hf-x: ${widget.x + 1}; --hf-y: ${widget.y + 1}; --hf-w: ${widget.w}; --hf-h: ${widget.h};`;
    }
    tileValue(widget) {
        return widget.tag_id ? this.data.values[widget.tag_id] : undefined;
    }

    call(url, params) {
        // a fresh settings object per call: rpc adds its Content-Type to the headers it is given
        return rpc(url, params, { ...this.rpcSettings, headers: { ...this.rpcSettings.headers } });
    }

    pollNow() {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.poll(), 0);
    }

    async poll() {
        if (!this.alive) {
            return;
        }
        const started = Date.now();
        let delay = POLL_MS;
        try {
            const result = await this.call(this.urls.data, {});
            if (!result.ok) {
                // Revoked link or lost access: say so plainly; look again later in case it is restored.
                this.state.refused = result.message;
                this.state.data = null;
                delay = 30000;
            } else {
                this.state.refused = "";
                this.state.data = result;
                this.state.failures = 0;
                this.state.lastOk = Date.now();
                this.state.tick = this.state.lastOk;
                delay = Math.max(0, POLL_MS - (Date.now() - started));
            }
        } catch {
            this.state.failures++;
            this.state.tick = Date.now();
            delay = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** Math.min(this.state.failures, 4));
        }
        if (this.alive) {
            this.timer = setTimeout(() => this.poll(), delay);
        }
    }

    fullscreen() {
        const el = document.documentElement;
        if (document.fullscreenElement) {
            document.exitFullscreen?.();
        } else {
            el.requestFullscreen?.().catch(() => {});
        }
    }
    toggleTheme() {
        if (this.state.data) {
            this.state.data.screen.theme = this.theme === "dark" ? "light" : "dark";
        }
    }
    noTileMessage(widget) {
        return _t("This kind of tile (%s) is not available here.", widget.kind);
    }
}
