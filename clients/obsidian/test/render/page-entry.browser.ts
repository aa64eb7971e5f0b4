// In the screenshot page: renders the model given in window.OWP_MODEL with the plugin's renderer.
import { renderStatus } from "../../src/render";
import type { ViewActions } from "../../src/render";
import type { StatusModel } from "../../src/model";

const noop = () => undefined;
const actions = new Proxy({}, { get: () => noop }) as ViewActions;
const model = (window as unknown as { OWP_MODEL: StatusModel }).OWP_MODEL;
renderStatus(document.getElementById("owp-root") as HTMLElement, model, actions);
document.body.setAttribute("data-rendered", "yes");
