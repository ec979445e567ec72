/* The patient questionnaire: slider with a number box kept in step, one section at a time with progress,
   autosave to the server (and to this device as a fallback), and the "opened" beacon.
   Everything here is an enhancement: without JavaScript the form shows every section and still submits. */
(function () {
  "use strict";

  // Thanks page: the answers are sent, so nothing of them stays on this device.
  if (document.querySelector("[data-clear-drafts]")) {
    try {
      Object.keys(localStorage)
        .filter(function (k) { return k.indexOf("q-draft-") === 0; })
        .forEach(function (k) { localStorage.removeItem(k); });
    } catch (e) { /* storage unavailable: nothing to clear */ }
  }

  var form = document.getElementById("questionnaire");
  if (!form) return;

  var csrf = (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  var status = document.getElementById("q-save-status");
  // The words come from the page (data-say-*), in the patient's language; English if a page lacks one.
  function words(name, fallback) { return form.getAttribute("data-say-" + name) || fallback; }

  function say(text) { if (status) status.textContent = text; }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
      credentials: "same-origin",
      keepalive: true
    });
  }

  // --- Sliders: the range and the number box carry the same name and value -------------------------
  function syncSlider(fieldset, from) {
    var range = fieldset.querySelector("input[type=range]");
    var number = fieldset.querySelector("input[type=number]");
    var note = fieldset.querySelector("[data-untouched-note]");
    if (!range || !number) return;
    if (from === range) {
      number.value = range.value;
    } else if (number.value !== "") {
      var v = Math.round(Number(number.value));
      if (!isNaN(v)) range.value = Math.min(Number(range.max), Math.max(Number(range.min), v));
    }
    var answered = number.value !== "";
    range.classList.toggle("untouched", !answered);
    if (note) note.hidden = answered;
    range.setAttribute("aria-valuetext", answered ? number.value + " out of " + range.max : "not answered");
  }

  form.querySelectorAll("[data-slider]").forEach(function (fieldset) {
    var wrap = fieldset.querySelector("[data-slider-wrap]");
    var range = fieldset.querySelector("input[type=range]");
    var number = fieldset.querySelector("input[type=number]");
    if (!wrap || !range || !number) return;
    wrap.hidden = false;
    range.disabled = false;
    range.addEventListener("input", function () { syncSlider(fieldset, range); });
    number.addEventListener("input", function () { syncSlider(fieldset, number); });
    syncSlider(fieldset, number);
  });

  // --- Collecting values (the last input of a name wins, as on the server) ---------------------------
  function values() {
    var out = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && name.indexOf(".") > 0) out[name] = String(value);
    });
    return out;
  }

  function apply(saved) {
    Object.keys(saved).forEach(function (name) {
      var value = saved[name];
      form.querySelectorAll("[name='" + name.replace(/'/g, "") + "']").forEach(function (input) {
        if (input.type === "radio") input.checked = input.value === value;
        else if (input.type !== "range") input.value = value;
      });
    });
    form.querySelectorAll("[data-slider]").forEach(function (f) { syncSlider(f, null); });
  }

  // --- Autosave ---------------------------------------------------------------------------------------
  var draftUrl = form.getAttribute("data-draft-url");
  var localKey = form.getAttribute("data-local-key");
  var timer = null;

  function keepLocally(synced) {
    if (!localKey) return;
    try {
      localStorage.setItem(localKey, JSON.stringify({ values: values(), synced: synced }));
    } catch (e) { /* private mode or full: the server draft still works */ }
  }

  function saveNow() {
    timer = null;
    keepLocally(false);
    if (!draftUrl) return;
    say(words("saving", "Saving…"));
    var body = new FormData(form);
    post(draftUrl, body).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      keepLocally(true);
      say(words("saved", "Your answers are saved."));
    }).catch(function () {
      say(localKey ? words("kept-here", "Not saved to the clinic yet (check your connection). Your answers are kept on this device.")
                   : words("not-saved", "Not saved yet: check your connection."));
    });
  }

  function scheduleSave() {
    if (!draftUrl && !localKey) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(saveNow, 600);
  }

  if (draftUrl || localKey) {
    form.addEventListener("change", scheduleSave);
    form.addEventListener("input", scheduleSave);
    // A tab closed mid-typing: send what is there.
    window.addEventListener("pagehide", function () { if (timer) { clearTimeout(timer); saveNow(); } });
  }

  // Answers this device kept but the server never got (e.g. offline) win over the server's draft.
  if (localKey) {
    try {
      var kept = JSON.parse(localStorage.getItem(localKey) || "null");
      if (kept && kept.values && kept.synced === false && !form.querySelector(".error-summary")) {
        apply(kept.values);
        scheduleSave();
      }
    } catch (e) { /* unreadable: ignore */ }
  }

  var openedUrl = form.getAttribute("data-opened-url");
  if (openedUrl) post(openedUrl, new FormData()).catch(function () {});

  // --- One section at a time ----------------------------------------------------------------------------
  if (!form.hasAttribute("data-stepper")) return;
  var sections = Array.prototype.slice.call(form.querySelectorAll(".q-section"));
  if (sections.length < 2) return;
  var progress = form.querySelector("[data-progress]");
  var label = document.getElementById("q-progress-label");
  var fill = form.querySelector("[data-progress-fill]");
  var submit = form.querySelector("[data-submit]");
  var stepKey = localKey ? localKey + "-step" : null;
  var current = 0;
  var intro = document.querySelector(".q-intro");
  form.classList.add("is-stepped");

  function missing(fieldset) {
    var number = fieldset.querySelector("input[type=number]");
    if (number) return number.value === "";
    var radios = fieldset.querySelectorAll("input[type=radio]");
    if (radios.length) return !fieldset.querySelector("input[type=radio]:checked");
    var text = fieldset.querySelector("textarea");
    return text ? text.value.trim() === "" : false;
  }

  function setError(fieldset, on) {
    var id = fieldset.id + "-error-js";
    var existing = document.getElementById(id);
    if (on && !existing) {
      var p = document.createElement("p");
      p.className = "field-error";
      p.id = id;
      p.textContent = words("required", "Please answer this question.");
      var legend = fieldset.querySelector("legend");
      legend.insertAdjacentElement("afterend", p);
      var described = (fieldset.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      described.push(id);
      fieldset.setAttribute("aria-describedby", described.join(" "));
      fieldset.classList.add("has-error");
    } else if (!on && existing) {
      existing.remove();
      var rest = (fieldset.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x !== id; });
      fieldset.setAttribute("aria-describedby", rest.join(" "));
      if (!fieldset.querySelector(".field-error")) fieldset.classList.remove("has-error");
    }
  }

  function checkSection(section) {
    var first = null;
    section.querySelectorAll("[data-required]").forEach(function (fieldset) {
      var bad = missing(fieldset);
      setError(fieldset, bad);
      if (bad && !first) first = fieldset;
    });
    return first;
  }

  form.addEventListener("change", function (event) {
    var fieldset = event.target.closest("[data-required]");
    if (fieldset && !missing(fieldset)) setError(fieldset, false);
  });

  function show(index, focus) {
    current = Math.max(0, Math.min(sections.length - 1, index));
    sections.forEach(function (s, i) {
      s.hidden = i !== current;
      var nav = s.querySelector("[data-nav]");
      if (nav) {
        nav.hidden = false;
        nav.querySelector("[data-prev]").hidden = i === 0;
        nav.querySelector("[data-next]").hidden = i === sections.length - 1;
      }
    });
    submit.hidden = current !== sections.length - 1;
    // The welcome text once; later steps start at the question, under the page's heading (kept: every page has one).
    if (intro) Array.prototype.forEach.call(intro.children, function (el) { el.hidden = current !== 0 && el.tagName !== "H1"; });
    progress.hidden = false;
    label.textContent = words("section", "Section {number} of {total}").replace("{number}", String(current + 1)).replace("{total}", String(sections.length));
    fill.style.width = Math.round(((current + 1) / sections.length) * 100) + "%";
    if (stepKey) { try { localStorage.setItem(stepKey, String(current)); } catch (e) { /* ignore */ } }
    if (focus) {
      var heading = sections[current].querySelector("h2");
      progress.scrollIntoView({ block: "start" });
      if (heading) heading.focus();
    }
  }

  sections.forEach(function (section, i) {
    section.querySelector("[data-next]").addEventListener("click", function () {
      var first = checkSection(section);
      if (first) {
        var input = first.querySelector("input, textarea");
        first.scrollIntoView({ block: "center" });
        if (input) input.focus();
        return;
      }
      show(i + 1, true);
    });
    section.querySelector("[data-prev]").addEventListener("click", function () { show(i - 1, true); });
  });

  form.querySelectorAll("[data-goto]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("data-goto"));
      var index = sections.indexOf(target);
      if (index >= 0) {
        show(index, false);
        var item = document.querySelector(link.getAttribute("href"));
        if (item) {
          event.preventDefault();
          item.scrollIntoView({ block: "center" });
          var input = item.querySelector("input, textarea");
          if (input) input.focus();
        }
      }
    });
  });

  form.addEventListener("submit", function (event) {
    var first = checkSection(sections[current]);
    if (first) { event.preventDefault(); first.scrollIntoView({ block: "center" }); }
  });

  var withErrors = sections.findIndex(function (s) { return s.classList.contains("has-error"); });
  var start = 0;
  if (withErrors >= 0) start = withErrors;
  else if (stepKey) { try { start = Number(localStorage.getItem(stepKey) || 0) || 0; } catch (e) { start = 0; } }
  show(start, false);
  var summary = document.getElementById("error-summary");
  if (summary) { sections[current].hidden = false; summary.focus(); }
})();
