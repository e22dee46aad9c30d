// Loaded on every page by templates/base.html as <script type="module">. No inline scripts:
// the Content Security Policy will forbid them.
//
// Only browsers that run ES modules run this file, which is the same test govuk-frontend makes
// before it initialises its components; older browsers get the plain, working HTML.
import { initAll } from "../vendor/govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
