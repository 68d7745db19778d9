// When htmx replaces the results (a search answered without reloading the page) or the page's
// content (the same, with an invalid filter), a screen reader hears nothing: the result count
// it would read on a new page is new text in a region it is not watching. Copy it into the
// live region of base.html, which it is watching.
document.addEventListener("htmx:afterSettle", function (event) {
  var swapped = event.detail.target.id;
  if (swapped !== "resultats" && swapped !== "contenu") {
    return;
  }
  var count = document.getElementById("result-count");
  var live = document.getElementById("annonce");
  if (count && live) {
    live.textContent = count.textContent;
  }
});

// The NIR revealed in place of the masked one: the button that asked for it is gone, so the
// focus would fall back to the page's start; it goes to the revealed NIR, which is read out.
document.addEventListener("htmx:afterSettle", function (event) {
  var revealed = event.detail.target;
  if (revealed && revealed.id && revealed.id.indexOf("nir-") === 0) {
    var now = document.getElementById(revealed.id);
    if (now) {
      now.focus();
    }
  }
});

// A run's progress, polled every 2 s, is replaced whole: a live region on it would be read
// unreliably, and each percentage would be noise. Its status is read out when it changes
// (running → imported), through the live region of base.html.
document.addEventListener("htmx:afterSettle", function (event) {
  var before = event.detail.target;
  if (!before || !before.id || before.id.indexOf("run-progress") !== 0) {
    return;
  }
  var now = document.getElementById(before.id);
  var live = document.getElementById("annonce");
  if (now && live && now.dataset.announce && now.dataset.announce !== before.dataset.announce) {
    live.textContent = now.dataset.announce;
  }
});
