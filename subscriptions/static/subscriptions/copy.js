// "Copy" buttons: <button data-copy="input-id"> copies that field's value and says so in
// the element with data-copy-status="input-id" (a polite live region).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var id = button.getAttribute("data-copy");
  var field = document.getElementById(id);
  var status = document.querySelector('[data-copy-status="' + id + '"]');
  var done = function (text) { if (status) status.textContent = text; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(
      function () { done("Copied to the clipboard."); },
      function () { field.select(); done("Selected: press Ctrl+C (⌘C) to copy."); }
    );
  } else {
    field.select();
    done(document.execCommand && document.execCommand("copy") ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.");
  }
});
