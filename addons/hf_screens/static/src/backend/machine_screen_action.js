/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { HfMachineScreen } from "@hf_screens/screen/machine_screen";

/** Client action "Machine screen": the screen full screen inside the backend, as the logged-in user. */
export class HfMachineScreenAction extends Component {
    static template = "hf_screens.HfMachineScreenAction";
    static components = { HfMachineScreen };
    static props = { ...standardActionServiceProps };

    setup() {
        this.actionService = useService("action");
        const params = this.props.action.params || {};
        this.screenId = params.screen_id || this.props.action.context?.active_id || 0;
        this.message = _t(
            "Open the machine screen from its workcell (Manufacturing › Workcells › Machine screen).",
        );
    }

    close() {
        this.actionService
            .restore()
            .catch(() => this.actionService.doAction("mrp.mrp_workcenter_kanban_action"));
    }
}

registry.category("actions").add("hf_screens.machine_screen", HfMachineScreenAction);
