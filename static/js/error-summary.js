// After a refused form, the focus goes to the error summary (templates/includes/error_summary.html):
// its `autofocus` does it in most browsers, this does it where that came too late. A link of the
// summary moves the focus to its field (an anchor alone scrolls but leaves the focus behind), with
// the field's label in view.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) {
    return;
  }
  if (document.activeElement === document.body || document.activeElement === null) {
    summary.focus();
  }
  summary.addEventListener("click", function (event) {
    var link = event.target.closest('a[href^="#"]');
    if (!link) {
      return;
    }
    var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (!target) {
      return;
    }
    var control = target.matches("input, select, textarea, button")
      ? target
      : target.querySelector("input, select, textarea, button");
    if (!control) {
      return;
    }
    event.preventDefault();
    var label = control.id ? document.querySelector('label[for="' + control.id + '"]') : null;
    (label || control).scrollIntoView({ block: "center" });
    control.focus({ preventScroll: true });
  });
});
