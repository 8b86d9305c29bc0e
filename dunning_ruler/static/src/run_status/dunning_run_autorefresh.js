import { Component, useEffect } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/**
 * Reloads the run-status record while the run is queued or running, so that its
 * progress moves by itself; stops once the run is finished (or the window closed).
 */
export class DunningRunAutoRefresh extends Component {
    static template = "dunning_ruler.DunningRunAutoRefresh";
    static props = { ...standardWidgetProps, interval: { type: Number, optional: true } };
    static defaultProps = { interval: 3000 };

    setup() {
        useEffect(
            (refreshing) => {
                if (!refreshing) {
                    return;
                }
                const timer = setInterval(() => this.refresh(), this.props.interval);
                return () => clearInterval(timer);
            },
            () => [this.refreshing]
        );
    }

    get refreshing() {
        return this.props.record.data.state !== "done";
    }

    async refresh() {
        const record = this.props.record;
        if (!(await record.isDirty())) {
            await record.load();
        }
    }
}

export const dunningRunAutoRefresh = {
    component: DunningRunAutoRefresh,
    extractProps: ({ attrs }) => (attrs.interval ? { interval: parseInt(attrs.interval, 10) } : {}),
    fieldDependencies: [{ name: "state", type: "selection" }],
};

registry.category("view_widgets").add("dunning_run_autorefresh", dunningRunAutoRefresh);
