// « Tout cocher sur la page »: without JavaScript, a link to the same page with every box ticked;
// with it, a button that ticks (or unticks) the page's boxes in place, keeping what the form
// already holds. The form is named by the button's data-check-page attribute.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-check-page]").forEach(function (button) {
    var form = document.getElementById(button.dataset.checkPage);
    if (!form) {
      return;
    }
    var boxes = function () {
      return form.querySelectorAll('input[type="checkbox"][name="beneficiaries"]');
    };
    // Its label says what it will do (not aria-pressed, which would contradict a changing label).
    var allTicked = function () {
      return Array.prototype.every.call(boxes(), function (box) { return box.checked; });
    };
    var show = function () {
      button.textContent = allTicked() ? button.dataset.labelOn : button.dataset.labelOff;
    };
    button.addEventListener("click", function () {
      var tick = !allTicked();
      boxes().forEach(function (box) { box.checked = tick; });
      show();
    });
    form.addEventListener("change", show);
    var link = button.parentElement.querySelector("a[data-check-page]");
    if (link) {
      link.hidden = true;
    }
    button.hidden = false;
    show();
  });
});
