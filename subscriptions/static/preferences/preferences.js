// Progressive enhancement only: every form works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Changing the language applies it at once (the Change button stays for keyboards).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Move focus to the confirmation so screen readers and keyboards start from it.
  const notice = document.querySelector("[data-focus-on-load]");
  if (notice && !location.hash) notice.focus();
});
