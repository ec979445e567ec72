// /api/docs/: Swagger UI is drawn by its own code after the schema loads; these touches make what it draws fit
// the page it sits in (headings in order under the page's h1). Re-applied whenever it redraws.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root) return;

  function fit() {
    // Its blocks outside the operations (the API's description, servers and sign-in, schemas): named regions.
    [[".information-container", "About this API"], [".scheme-container", "Servers and authorisation"],
     ["section.models", "Schemas"]].forEach(function (pair) {
      var block = root.querySelector(pair[0]);
      if (block && !block.hasAttribute("role")) {
        block.setAttribute("role", "region");
        block.setAttribute("aria-label", pair[1]);
      }
    });
    // An opened operation: its parameters' fields are named by the parameter; code samples scroll by keyboard.
    root.querySelectorAll("tr[data-param-name]").forEach(function (row) {
      row.querySelectorAll("select, input, textarea").forEach(function (field) {
        if (!field.hasAttribute("aria-label")) field.setAttribute("aria-label", row.getAttribute("data-param-name"));
      });
    });
    root.querySelectorAll(".highlight-code > .microlight").forEach(function (code, i) {
      code.setAttribute("tabindex", "0");
      code.setAttribute("role", "region");
      code.setAttribute("aria-label", "Example " + (i + 1));
    });
    var title = root.querySelector(".info h1.title");
    if (title && title.getAttribute("aria-level") !== "2") {
      title.setAttribute("role", "heading");  // the API's name, under the page's own h1
      title.setAttribute("aria-level", "2");
    }
  }

  new MutationObserver(fit).observe(root, { childList: true, subtree: true });
  fit();
})();
