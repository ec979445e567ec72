// Show only the chosen product's protocol fieldset, and whether study governance is required for it.
// Without JavaScript every fieldset stays visible, each under its own heading; the server validates only the
// chosen product's fieldset either way.
(function () {
  "use strict";
  var form = document.querySelector("[data-injection-form]");
  if (!form) return;
  var product = form.querySelector("select[name=product]");
  if (!product) return; // correcting a record: the product is fixed and only its fieldset is on the page
  var fieldsets = form.querySelectorAll("fieldset[data-product]");
  var governed = (form.getAttribute("data-governance-products") || "").split(" ");
  var requiredNote = form.querySelector("[data-governance-required]");
  var optionalNote = form.querySelector("[data-governance-optional]");

  function value(name) {
    var field = form.querySelector("[name='" + name + "']");
    return field ? field.value : "";
  }

  // Mirrors registry.protocols.governance_required (the server's rule; this only shows the hint early).
  function needsStudy(chosen) {
    if (chosen === "adsc") {
      var preparation = value("adsc-preparation");
      return preparation === "culture_expanded" || (preparation === "svf" && value("adsc-processing") === "enzymatic");
    }
    return chosen === "other" && value("other-cell_product") === "yes";
  }

  function update() {
    var chosen = product.value;
    for (var i = 0; i < fieldsets.length; i++) {
      fieldsets[i].hidden = fieldsets[i].getAttribute("data-product") !== chosen;
    }
    var required = governed.indexOf(chosen) !== -1 || needsStudy(chosen);
    if (requiredNote) requiredNote.hidden = !required;
    if (optionalNote) optionalNote.hidden = required;
  }

  product.addEventListener("change", update);
  form.addEventListener("change", function (event) {
    if (/^(adsc-preparation|adsc-processing|other-cell_product)$/.test(event.target.name)) update();
  });
  update();
})();

// Components (issue 15): each further product shows only its chosen product's protocol fieldset.
(function () {
  "use strict";
  var components = document.querySelectorAll("[data-injection-form] [data-component]");
  Array.prototype.forEach.call(components, function (component) {
    var product = component.querySelector("select[name$='-product']");
    if (!product) return;
    var fieldsets = component.querySelectorAll("fieldset[data-component-product]");
    function update() {
      for (var i = 0; i < fieldsets.length; i++) {
        fieldsets[i].hidden = fieldsets[i].getAttribute("data-component-product") !== product.value;
      }
    }
    product.addEventListener("change", update);
    update();
  });
})();
