// When htmx replaces the page's content (a search answered without reloading the page), a
// screen reader hears nothing: the result count it would read on a new page is new text in a
// region it is not watching. Copy it into the live region of base.html, which it is watching.
document.addEventListener("htmx:afterSettle", function (event) {
  if (event.detail.target.id !== "contenu") {
    return;
  }
  var count = document.getElementById("result-count");
  var live = document.getElementById("annonce");
  if (count && live) {
    live.textContent = count.textContent;
  }
});
