// The reports page is drawn on the server (a list of links to the files): nothing to fetch;
// the page only watches for work like every page, and says it is ready.

import { watchForWork } from "./alerts.js";

document.body.dataset.loaded = "true";
watchForWork();
