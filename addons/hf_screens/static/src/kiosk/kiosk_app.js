/** @odoo-module **/

import { App, Component, whenReady } from "@odoo/owl";
import { makeEnv, startServices } from "@web/env";
import { getTemplate } from "@web/core/templates";
import { _t } from "@web/core/l10n/translation";
import { MainComponentsContainer } from "@web/core/main_components_container";
import { HfMachineScreen } from "@hf_screens/screen/machine_screen";

/** The public kiosk: one workcell's screen, identified by the link's token; no login. */
class HfKioskApp extends Component {
    static template = "hf_screens.HfKioskApp";
    static components = { HfMachineScreen, MainComponentsContainer };
    static props = { token: String };
}

export async function startKiosk(info) {
    await whenReady();
    const env = makeEnv();
    await startServices(env);
    const app = new App(HfKioskApp, {
        getTemplate,
        env,
        props: { token: info.token },
        dev: env.debug,
        translateFn: _t,
        translatableAttributes: ["data-tooltip"],
    });
    return app.mount(document.body);
}
